"""From mart rows to a candidate model: leave-one-season-out evaluation, then the final fit on all seasons."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from models.evaluate import (
    calibration_table,
    loso_predict,
    per_period_table,
    score_metrics,
    wp_metrics_by_season,
)
from models.features import (
    MART_QUERIES,
    nba_training_rows,
    query_frame,
    score_training_rows,
    wp_training_rows,
)
from models.registry import Candidate
from models.train import LogisticWpModel, NbaLogisticWpModel, NbaWpModel, ScoreModel, WpModel

WP_VARIANTS = ("home_wp", "home_wp_spread")


@dataclass(frozen=True)
class ModelSpec:
    """How one registry model is trained and judged, and which sport's mart it reads."""

    name: str
    model_class: type
    training_rows: Callable[[pd.DataFrame], pd.DataFrame]
    evaluate: Callable[[pd.DataFrame], dict]
    sport: str = "nfl"

    @property
    def mart(self) -> str:
        return f"marts.{self.sport}_wp_features"

    def frame(self, con) -> pd.DataFrame:
        """The mart rows this model trains on (`con`: a DuckDB connection to the warehouse)."""
        return query_frame(con, MART_QUERIES[self.sport](self.mart), self.sport)

    def save_frame(self, con, path: Path) -> int:
        """Write the rows of `frame` to a parquet file, by DuckDB (a third of the time of `frame` and pandas'
        writer for the NBA's 1.8M actions); returns how many."""
        query, file = MART_QUERIES[self.sport](self.mart), _sql_text(path)
        con.execute(f"copy ({query}) to {file} (format parquet)")
        return con.execute(f"select count(*) from read_parquet({file})").fetchall()[0][0]

    def load_frame(self, path: Path) -> pd.DataFrame:
        """The rows `save_frame` wrote, exactly as `frame` gives them."""
        with duckdb.connect() as con:
            return query_frame(con, f"from read_parquet({_sql_text(path)})", self.sport)


def _sql_text(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _posteam_view(predictions: pd.DataFrame) -> pd.DataFrame:
    """nflfastR evaluates posteam's win probability against posteam's result; do the same."""
    out = predictions.copy()
    for variant in WP_VARIANTS:
        out[variant] = np.where(out["posteam_is_home"] > 0.5, out[variant], 1.0 - out[variant])
    return out


def wp_evaluator(
    variants: tuple[str, ...],
    label: str,
    period: str,
    selected: str,
    view: Callable[[pd.DataFrame], pd.DataFrame] = lambda predictions: predictions,
) -> Callable[[pd.DataFrame], dict]:
    """Metrics of win-probability predictions: per variant overall and per held-out season, per period,
    calibration tables (by `period`), and the selection metric (log loss of `selected`) per season."""

    def evaluate(predictions: pd.DataFrame) -> dict:
        viewed = view(predictions)
        by_variant = {v: wp_metrics_by_season(viewed, v, label, period) for v in variants}
        chosen = by_variant[selected]
        return {
            "variants": by_variant,
            "per_period": {
                v: per_period_table(viewed, v, label, period).to_dict("records") for v in variants
            },
            "calibration": {
                v: calibration_table(viewed[label], viewed[v], viewed[period]).to_dict("records")
                for v in variants
            },
            "selection": {
                "metric": "log_loss",
                "variant": selected,
                "by_season": {s: m["log_loss"] for s, m in chosen["by_season"].items()},
                "calibration_error_by_season": {
                    s: m["calibration_error"] for s, m in chosen["by_season"].items()
                },
            },
        }

    return evaluate


evaluate_wp = wp_evaluator(WP_VARIANTS, "posteam_win", "quarter", "home_wp_spread", _posteam_view)
# NBA: the home team's win, calibration by period with every overtime as one period (`period_group`)
evaluate_nba_wp = wp_evaluator(("home_wp",), "home_win", "period_group", "home_wp")


def evaluate_score(predictions: pd.DataFrame) -> dict:
    by_season = {str(s): score_metrics(p) for s, p in predictions.groupby("season")}
    return {
        "overall": score_metrics(predictions),
        "by_season": by_season,
        "selection": {
            "metric": "mae_per_team",
            "by_season": {s: m["mae_per_team"] for s, m in by_season.items()},
        },
    }


SPECS = {
    spec.name: spec
    for spec in (
        ModelSpec("nfl_wp", WpModel, wp_training_rows, evaluate_wp),
        ModelSpec("nfl_wp_baseline", LogisticWpModel, wp_training_rows, evaluate_wp),
        ModelSpec("nfl_score", ScoreModel, score_training_rows, evaluate_score),
        ModelSpec("nba_wp", NbaWpModel, nba_training_rows, evaluate_nba_wp, "nba"),
        ModelSpec("nba_wp_baseline", NbaLogisticWpModel, nba_training_rows, evaluate_nba_wp, "nba"),
    )
}


def fingerprint(rows: pd.DataFrame) -> str:
    """sha256 of the training rows' content (row order included), to tell which data made a model."""
    hashed = pd.util.hash_pandas_object(rows.reset_index(drop=True), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def train_candidate(spec: ModelSpec, frame: pd.DataFrame, log: Callable[[str], None] = print) -> Candidate:
    """Evaluate `spec` leave-one-season-out on `frame` (mart rows), then fit it on all training rows."""
    rows = spec.training_rows(frame)
    seasons = sorted(int(s) for s in rows["season"].unique())
    log(f"{spec.name}: leave-one-season-out over {seasons} ({len(rows)} training rows)")
    predictions, folds = loso_predict(
        rows, spec.model_class.fit, lambda model, held_out: model.predict(held_out)
    )
    metrics = spec.evaluate(predictions)
    metrics["folds"] = [{"held_out": f.held_out, "training_seasons": list(f.training_seasons)} for f in folds]
    log(f"{spec.name}: fitting the final model on {seasons}")
    model = spec.model_class.fit(rows)
    return Candidate(spec.name, model, seasons, len(rows), fingerprint(rows), metrics)
