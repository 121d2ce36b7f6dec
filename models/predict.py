"""Scoring with the champions: a frame of plays, an nflverse file, or one live game state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.features import ALL_FEATURES, SCORE_FEATURES, WP_FEATURES, WP_SPREAD_FEATURES, from_nflverse
from models.registry import champion
from models.train import ScoreModel, WpModel, line_prior

OUTPUT_COLUMNS = ("game_id", "play_id", "home_wp", "home_wp_spread", "pred_home_score", "pred_away_score")


class NoChampionError(RuntimeError):
    """The registry has no champion for a model the prediction needs."""


def read_plays(path: Path) -> pd.DataFrame:
    """A play-by-play file (parquet or csv), with a clear error naming it when it cannot be read."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.name.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path, low_memory=False)
    except Exception as error:  # pyarrow and pandas raise many kinds for broken files
        raise ValueError(f"{path}: cannot be read ({type(error).__name__}: {error})") from error
    raise ValueError(f"{path}: expected a .parquet, .csv or .csv.gz file")


@dataclass
class NflPredictor:
    """The champion win-probability and final-score models, loaded once."""

    wp: WpModel
    score: ScoreModel
    model_version: str
    training_seasons: list[int]

    @classmethod
    def from_registry(cls, con) -> NflPredictor:
        entries = {name: champion(con, name) for name in ("nfl_wp", "nfl_score")}
        missing = [name for name, entry in entries.items() if entry is None]
        if missing:
            raise NoChampionError(
                f"no champion model for {', '.join(missing)}: train the models first (`make demo`, or "
                "materialize the nfl_models group in the Dagster UI)"
            )
        wp, score = entries["nfl_wp"], entries["nfl_score"]
        return cls(wp.load(), score.load(), f"{wp.label}+{score.label}", wp.training_seasons)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Model columns in (see models.features), predictions out, row for row."""
        out = frame.loc[:, ["game_id", "play_id"]].reset_index(drop=True)
        for name, values in {**self.wp.predict(frame), **self.score.predict(frame)}.items():
            out[name] = values
        out["model_version"] = self.model_version
        return out

    def predict_nflverse(self, pbp: pd.DataFrame, source: str = "input") -> pd.DataFrame:
        return self.predict_frame(from_nflverse(pbp, source))

    def predict_play(self, state: dict[str, float | None]) -> dict[str, float]:
        """One game state (model columns as a dict) → probabilities and predicted final scores, in process."""
        values = np.array([np.nan if state[f] is None else state[f] for f in ALL_FEATURES], dtype=np.float32)
        wp = float(self.wp.wp.inplace_predict(values[_WP_INDEX][None, :])[0])
        wp_spread = float(self.wp.wp_spread.inplace_predict(values[_WP_SPREAD_INDEX][None, :])[0])
        prior = np.column_stack(
            line_prior(state["total_line"], state["spread_line"], state["game_seconds_remaining"])
        )
        to_come = self.score.booster.inplace_predict(values[_SCORE_INDEX][None, :], base_margin=prior)[0]
        is_home = state["posteam_is_home"] > 0.5
        return {
            "home_wp": wp if is_home else 1 - wp,
            "home_wp_spread": wp_spread if is_home else 1 - wp_spread,
            "pred_home_score": float(state["home_score"] + max(to_come[0], 0.0)),
            "pred_away_score": float(state["away_score"] + max(to_come[1], 0.0)),
        }


_WP_INDEX, _WP_SPREAD_INDEX, _SCORE_INDEX = (
    np.array([ALL_FEATURES.index(f) for f in features])
    for features in (WP_FEATURES, WP_SPREAD_FEATURES, SCORE_FEATURES)
)
