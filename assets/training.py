"""Training assets, per sport: each materialization trains, evaluates (leave-one-season-out) and registers a
version."""

import base64
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


def model_asset(model_name: str, description: str) -> dg.AssetsDefinition:
    """A training asset for one registry model; materializing it adds one immutable version."""
    key = dg.AssetKey(["ml", f"{model_name}_model"])
    spec = SPECS[model_name]

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(spec.mart.split("."))],
        group_name=f"{spec.sport}_models",
        pool="warehouse",
        kinds={"xgboost", "duckdb"},
        automation_condition=dg.AutomationCondition.eager(),
        check_specs=[
            dg.AssetCheckSpec(
                "no_regression_vs_champion",
                asset=key,
                description=f"held-out metrics within {TOLERANCES[model_name]} of the champion's",
            )
        ],
        description=description,
    )
    def train(context: dg.AssetExecutionContext, warehouse: Warehouse, model_store: ModelStore):
        with warehouse.connect(read_only=True) as con:
            frame = spec.frame(con)
        candidate = train_candidate(spec, frame, log=context.log.info)
        with warehouse.connect() as con:
            check = regression(candidate.metrics, champion(con, model_name), TOLERANCES[model_name])
            entry = register(con, candidate, Path(model_store.path))
        context.log.info(f"{entry.label}: {entry.decision['reason']}")
        return dg.MaterializeResult(
            metadata=_metadata(entry, candidate),
            check_results=[
                dg.AssetCheckResult(
                    check_name="no_regression_vs_champion",
                    passed=check["passed"],
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"comparison": dg.MetadataValue.json(check)},
                )
            ],
        )

    return train


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
