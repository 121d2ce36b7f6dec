"""Training assets, per sport: each materialization trains, evaluates (leave-one-season-out) and registers a
version."""

import base64
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from models.evaluate import calibration_plot
from models.pipeline import SPECS, train_candidate
from models.registry import Candidate, Entry, champion, register, regression
from orchestration.resources import ModelStore, Warehouse
from orchestration.settings import env_number

# how much worse than the champion a new version may be on held-out seasons before its check fails
TOLERANCES = {
    "nfl_wp": {"log_loss": 0.005, "calibration_error": 0.003},
    "nfl_wp_baseline": {"log_loss": 0.005, "calibration_error": 0.003},
    "nfl_score": {"mae_per_team": 0.1},
    "nba_wp": {"log_loss": 0.003, "calibration_error": 0.003},
    "nba_wp_baseline": {"log_loss": 0.003, "calibration_error": 0.003},
}


# CPU priority of model training (a Unix nice value, 0 to 19): training yields the cores to live scoring
TRAINING_NICENESS = int(env_number("PLAYCAST_TRAINING_NICENESS", 10, integer=True, low=0, high=19))
# a failed training run's handed-over files stay this long, for a re-execution from the failure
SCRATCH_KEPT_SECONDS = 7 * 24 * 3600


def _table(rows: dict[str, dict]) -> str:
    return pd.DataFrame(rows).T.round(4).to_markdown()


CALIBRATION_PNG = "calibration.png"  # drawn by the training step, outside the pool


def _draw_calibration(candidate: Candidate, folder: Path) -> None:
    """The win-probability candidate's calibration plot, beside its files (the register step reads it)."""
    if "calibration" in candidate.metrics:
        tables = {v: pd.DataFrame(t) for v, t in candidate.metrics["calibration"].items()}
        (folder / CALIBRATION_PNG).write_bytes(calibration_plot(tables))


def _metadata(entry: Entry, candidate: Candidate, folder: Path) -> dict:
    metrics = candidate.metrics
    metadata = {
        "version": entry.label,
        "champion": entry.is_champion,
        "decision": entry.decision["reason"],
        "training_seasons": str(candidate.training_seasons),
        "training_rows": candidate.training_rows,
        "data_fingerprint": candidate.data_fingerprint[:16],
        "artifact": dg.MetadataValue.path(entry.artifact_path),
    }
    if "variants" in metrics:  # win probability
        overall = {v: m["overall"] for v, m in metrics["variants"].items()}
        selected = metrics["selection"]["variant"]
        metadata["brier"] = overall[selected]["brier"]
        metadata["log_loss"] = overall[selected]["log_loss"]
        metadata["calibration_error"] = overall[selected]["calibration_error"]
        metadata["metrics (held-out seasons)"] = dg.MetadataValue.md(_table(overall))
        metadata[f"per period ({selected}; 5 = overtime)"] = dg.MetadataValue.md(
            pd.DataFrame(metrics["per_period"][selected]).round(4).to_markdown(index=False)
        )
        png = (folder / CALIBRATION_PNG).read_bytes()
        metadata["calibration plot"] = dg.MetadataValue.md(
            f"![calibration](data:image/png;base64,{base64.b64encode(png).decode()})"
        )
    else:  # final score
        metadata["mae_per_team"] = metrics["overall"]["mae_per_team"]
        metadata["metrics (held-out seasons)"] = dg.MetadataValue.md(_table({"all": metrics["overall"]}))
    return metadata


def _scratch(context: dg.OpExecutionContext, sport: str) -> Path:
    """The run's folder for what the training steps hand each other (the instance's storage, not the repo)."""
    return Path(context.instance.storage_directory()) / context.run_id / "training" / sport


def _remove_stale_scratch(context: dg.OpExecutionContext, sport: str, kept_seconds: float) -> None:
    """Remove the sport's scratch folders of other runs that ended more than `kept_seconds` ago or are no
    longer in the instance (a run that succeeded removed its own; a failed one keeps them for a
    re-execution from the failure)."""
    cutoff = time.time() - kept_seconds
    for folder in Path(context.instance.storage_directory()).glob(f"*/training/{sport}"):
        run_id = folder.parent.parent.name
        record = context.instance.get_run_record_by_id(run_id)
        ended = record is not None and record.dagster_run.is_finished and record.end_time is not None
        if run_id != context.run_id and (record is None or (ended and record.end_time < cutoff)):
            shutil.rmtree(folder)
            context.log.info(f"removed {folder}: what training run {run_id} left behind")


def _lower_cpu_priority(context: dg.OpExecutionContext) -> None:
    """Run this thread, and the threads it starts (xgboost's), at TRAINING_NICENESS: on Linux a nice value
    is per thread, so the run's other threads are untouched. It cannot be raised again without privileges,
    so the run's later steps (registering, in the pool, seconds) keep it too."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current < TRAINING_NICENESS:
        os.setpriority(os.PRIO_PROCESS, 0, TRAINING_NICENESS)
        context.log.info(f"training at nice {TRAINING_NICENESS} (was {current}): live scoring goes first")


def model_assets(sport: str, descriptions: dict[str, str]) -> dg.AssetsDefinition:
    """The training assets of a sport's registry models (`descriptions`: model name → description); each
    materialization of one adds one immutable version.

    One graph: read the mart's rows to parquet, train and evaluate each model (and draw its calibration
    plot), register every version with its champion decision. Only the first and last steps open the
    warehouse, so only they are in the `warehouse` pool: live micro-batches and ingest go on while models
    train (minutes). The models share the graph so that a run never waits for the pool while it trains:
    Dagster keeps a step's place in the pool's queue while its run, in process, executes another step, and
    every other writer would queue behind it. The steps hand each other files, not pickles.
    """
    specs = {name: SPECS[name] for name in descriptions}
    [mart] = {spec.mart for spec in specs.values()}
    reader = next(iter(specs.values()))  # every model of the sport reads the same mart rows
    keys = {name: dg.AssetKey(["ml", f"{name}_model"]) for name in specs}
    checks = {
        name: dg.AssetCheckSpec(
            "no_regression_vs_champion",
            asset=keys[name],
            description=f"held-out metrics within {TOLERANCES[name]} of the champion's",
        )
        for name in specs
    }
    check_outputs = {name: check.get_python_identifier() for name, check in checks.items()}

    @dg.op(name=f"read_{sport}_training_rows", pool="warehouse", ins={"mart": dg.In(dg.Nothing)})
    def read_rows(context: dg.OpExecutionContext, warehouse: Warehouse) -> str:
        _remove_stale_scratch(context, sport, SCRATCH_KEPT_SECONDS)
        path = _scratch(context, sport) / "rows.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        with warehouse.connect(read_only=True) as con:
            schema, table = mart.split(".")
            if not con.execute(
                "select 1 from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
            ).fetchall():
                raise dg.Failure(
                    f"{mart} is not in the warehouse {warehouse.path}: materialize {sport.upper()} seasons "
                    f"first (`playcast materialize {sport} --seasons ...`, or the `{sport}_ingest` job and "
                    f"`build_{sport}_features`)"
                )
            rows = reader.save_frame(con, path)
        context.log.info(f"{rows:,} rows of {mart} → {path}")
        return str(path)

    def train_op(name: str) -> dg.OpDefinition:
        @dg.op(name=f"train_{name}")
        def train(context: dg.OpExecutionContext, rows: str) -> str:
            _lower_cpu_priority(context)
            candidate = train_candidate(specs[name], specs[name].load_frame(Path(rows)), log=context.log.info)
            folder = _scratch(context, sport) / name
            shutil.rmtree(folder, ignore_errors=True)
            candidate.save(folder)
            _draw_calibration(candidate, folder)
            return str(folder)

        return train

    @dg.op(
        name=f"register_{sport}_models",
        pool="warehouse",
        ins={name: dg.In(str) for name in specs},
        out={output: dg.Out(dg.Nothing) for output in (*specs, *check_outputs.values())},
    )
    def register_versions(
        context: dg.OpExecutionContext, warehouse: Warehouse, model_store: ModelStore, **candidates: str
    ):
        folders = {name: Path(folder) for name, folder in candidates.items()}
        trained = {name: Candidate.load(folder) for name, folder in folders.items()}
        with warehouse.connect() as con:
            for name, candidate in trained.items():
                comparison = regression(candidate.metrics, champion(con, name), TOLERANCES[name])
                entry = register(con, candidate, Path(model_store.path))
                context.log.info(f"{entry.label}: {entry.decision['reason']}")
                yield dg.MaterializeResult(
                    asset_key=keys[name], metadata=_metadata(entry, candidate, folders[name])
                )
                yield dg.AssetCheckResult(
                    asset_key=keys[name],
                    check_name=checks[name].name,
                    passed=comparison["passed"],
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"comparison": dg.MetadataValue.json(comparison)},
                )
        shutil.rmtree(_scratch(context, sport))

    @dg.graph_multi_asset(
        name=f"{sport}_models",
        group_name=f"{sport}_models",
        outs={
            name: dg.AssetOut(
                key=keys[name],
                description=description,
                kinds={"xgboost", "duckdb"},
                automation_condition=dg.AutomationCondition.eager(),
            )
            for name, description in descriptions.items()
        },
        ins={"mart": dg.AssetIn(key=dg.AssetKey(mart.split(".")), dagster_type=dg.Nothing)},
        check_specs=list(checks.values()),
    )
    def models(mart):
        rows = read_rows(mart)
        registered = register_versions(**{name: train_op(name)(rows) for name in specs})
        return {output: getattr(registered, output) for output in (*specs, *check_outputs.values())}

    return models


nfl_model_assets = model_assets(
    "nfl",
    {
        "nfl_wp": "Home win probability: xgboost without and with the pre-game spread (nflfastR's wp, "
        "vegas_wp).",
        "nfl_wp_baseline": "Logistic-regression baseline on the same win-probability features.",
        "nfl_score": "Predicted final home and away points from the game state and the pre-game lines.",
    },
)
nba_model_assets = model_assets(
    "nba",
    {
        "nba_wp": "NBA home win probability before every action: xgboost on the game state and a pre-game "
        "strength.",
        "nba_wp_baseline": "Logistic-regression baseline on the same NBA win-probability features.",
    },
)
