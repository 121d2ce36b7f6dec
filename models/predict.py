"""Scoring with the champions: a frame of plays, an nflverse file, or one live game state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from models.features import ALL_FEATURES, SCORE_FEATURES, WP_FEATURES, WP_SPREAD_FEATURES, from_nflverse
from models.registry import champion
from models.train import ScoreModel, WpModel, line_prior

PAUSES = ("TIMEOUT", "END_QUARTER", "UNSPECIFIED", "COMMENT")  # feed rows where no play happens
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
    _single: list | None = field(default=None, repr=False)  # single-threaded booster copies for predict_play

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
        if "play_type" in frame:
            self._settle(frame, out)
        out["model_version"] = self.model_version
        return out

    @staticmethod
    def _settle(frame: pd.DataFrame, out: pd.DataFrame) -> None:
        """Rows that are not a game state of their own get what the state tells: a pause (timeout, end of
        quarter, two-minute warning) keeps the previous play's numbers; a finished game its outcome."""
        columns = ["home_wp", "home_wp_spread", "pred_home_score", "pred_away_score"]
        pause = (frame["down"].isna() & frame["play_type"].isin(PAUSES)).to_numpy()
        out.loc[pause, columns] = np.nan
        out[columns] = out.groupby("game_id")[columns].ffill()
        over = (frame["play_type"] == "END_GAME").to_numpy()
        home, away = frame["home_score"].to_numpy(), frame["away_score"].to_numpy()
        outcome = np.where(home > away, 1.0, np.where(home < away, 0.0, 0.5))
        for column in ("home_wp", "home_wp_spread"):
            out.loc[over, column] = outcome[over]
        out.loc[over, "pred_home_score"], out.loc[over, "pred_away_score"] = home[over], away[over]

    def predict_nflverse(self, pbp: pd.DataFrame, source: str = "input") -> pd.DataFrame:
        return self.predict_frame(from_nflverse(pbp, source))

    def predict_play(self, state: dict[str, float | None]) -> dict[str, float]:
        """One game state (model columns as a dict) → probabilities and predicted final scores, in process.

        Runs single-threaded copies of the boosters: for one row, a thread pool costs more than it saves
        and makes the tail latency depend on what else the machine is doing.
        """
        if self._single is None:
            self._single = [b.copy() for b in (self.wp.wp, self.wp.wp_spread, self.score.booster)]
            for booster in self._single:
                booster.set_param({"nthread": 1})
        wp_booster, spread_booster, score_booster = self._single
        values = np.array([np.nan if state[f] is None else state[f] for f in ALL_FEATURES], dtype=np.float32)
        wp = float(wp_booster.inplace_predict(values[_WP_INDEX][None, :])[0])
        wp_spread = float(spread_booster.inplace_predict(values[_WP_SPREAD_INDEX][None, :])[0])
        prior = np.column_stack(
            line_prior(state["total_line"], state["spread_line"], state["game_seconds_remaining"])
        )
        to_come = score_booster.inplace_predict(values[_SCORE_INDEX][None, :], base_margin=prior)[0]
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
