"""Training assets, per sport: each materialization trains, evaluates (leave-one-season-out) and registers a
version."""

import base64
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd

from models.evaluate import calibration_plot
from models.pipeline import SPECS, train_candidate
from models.registry import Candidate, Entry, champion, register, regression
from orchestration.resources import ModelStore, Warehouse

# how much worse than the champion a new version may be on held-out seasons before its check fails
TOLERANCES = {
    "nfl_wp": {"log_loss": 0.005, "calibration_error": 0.003},
    "nfl_wp_baseline": {"log_loss": 0.005, "calibration_error": 0.003},
    "nfl_score": {"mae_per_team": 0.1},
    "nba_wp": {"log_loss": 0.003, "calibration_error": 0.003},
    "nba_wp_baseline": {"log_loss": 0.003, "calibration_error": 0.003},
}


def _table(rows: dict[str, dict]) -> str:
    return pd.DataFrame(rows).T.round(4).to_markdown()


def _metadata(entry: Entry, candidate: Candidate) -> dict:
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
        png = calibration_plot({v: pd.DataFrame(t) for v, t in metrics["calibration"].items()})
        metadata["calibration plot"] = dg.MetadataValue.md(
            f"![calibration](data:image/png;base64,{base64.b64encode(png).decode()})"
        )
    else:  # final score
        metadata["mae_per_team"] = metrics["overall"]["mae_per_team"]
        metadata["metrics (held-out seasons)"] = dg.MetadataValue.md(_table({"all": metrics["overall"]}))
    return metadata


def _scratch(context: dg.OpExecutionContext, model_name: str) -> Path:
    """The run's folder for what one model's steps hand each other (the instance's storage, not the repo)."""
    return Path(context.instance.storage_directory()) / context.run_id / "training" / model_name


def model_asset(model_name: str, description: str) -> dg.AssetsDefinition:
    """A training asset for one registry model; materializing it adds one immutable version.

    Three steps, so that only the two that open the warehouse hold the `warehouse` pool (live micro-batches
    and ingest wait for it): read the mart's rows (to parquet), train and evaluate (minutes, no pool),
    register the version and the champion decision. They hand each other files, not pickles.
    """
    key = dg.AssetKey(["ml", f"{model_name}_model"])
    spec = SPECS[model_name]
    check = dg.AssetCheckSpec(
        "no_regression_vs_champion",
        asset=key,
        description=f"held-out metrics within {TOLERANCES[model_name]} of the champion's",
    )

    @dg.op(name=f"read_{model_name}_rows", pool="warehouse", ins={"mart": dg.In(dg.Nothing)})
    def read_rows(context: dg.OpExecutionContext, warehouse: Warehouse) -> str:
        with warehouse.connect(read_only=True) as con:
            frame = spec.frame(con)
        path = _scratch(context, model_name) / "rows.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path)
        context.log.info(f"{len(frame):,} rows of {spec.mart} → {path}")
        return str(path)

    @dg.op(name=f"train_{model_name}")
    def train(context: dg.OpExecutionContext, rows: str) -> str:
        candidate = train_candidate(spec, pd.read_parquet(rows), log=context.log.info)
        folder = _scratch(context, model_name) / "candidate"
        shutil.rmtree(folder, ignore_errors=True)
        candidate.save(folder)
        return str(folder)

    @dg.op(
        name=f"register_{model_name}",
        pool="warehouse",
        out={"result": dg.Out(dg.Nothing), "check": dg.Out(dg.Nothing)},
    )
    def register_version(
        context: dg.OpExecutionContext, candidate: str, warehouse: Warehouse, model_store: ModelStore
    ):
        trained = Candidate.load(Path(candidate))
        with warehouse.connect() as con:
            comparison = regression(trained.metrics, champion(con, model_name), TOLERANCES[model_name])
            entry = register(con, trained, Path(model_store.path))
        shutil.rmtree(Path(candidate).parent)
        context.log.info(f"{entry.label}: {entry.decision['reason']}")
        yield dg.MaterializeResult(asset_key=key, metadata=_metadata(entry, trained))
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=check.name,
            passed=comparison["passed"],
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"comparison": dg.MetadataValue.json(comparison)},
        )

    @dg.graph_asset(
        key=key,
        ins={"mart": dg.AssetIn(key=dg.AssetKey(spec.mart.split(".")), dagster_type=dg.Nothing)},
        group_name=f"{spec.sport}_models",
        kinds={"xgboost", "duckdb"},
        automation_condition=dg.AutomationCondition.eager(),
        check_specs=[check],
        description=description,
    )
    def model(mart):
        result, checked = register_version(train(read_rows(mart)))
        return {"result": result, check.get_python_identifier(): checked}

    return model


nfl_model_assets = [
    model_asset(
        "nfl_wp",
        "Home win probability: xgboost without and with the pre-game spread (nflfastR's wp, vegas_wp).",
    ),
    model_asset("nfl_wp_baseline", "Logistic-regression baseline on the same win-probability features."),
    model_asset(
        "nfl_score", "Predicted final home and away points from the game state and the pre-game lines."
    ),
]
nba_model_assets = [
    model_asset(
        "nba_wp",
        "NBA home win probability before every action: xgboost on the game state and a pre-game strength.",
    ),
    model_asset("nba_wp_baseline", "Logistic-regression baseline on the same NBA win-probability features."),
]
