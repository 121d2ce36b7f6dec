"""Scoring with the champions: a frame of plays, an nflverse file, or one live game state; for the NBA a
frame of actions or any PlayByPlayV3 file (through the mart's own feature SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from models.features import (
    ALL_FEATURES,
    SCORE_FEATURES,
    WP_FEATURES,
    WP_SPREAD_FEATURES,
    MissingColumnsError,
    from_nflverse,
    nba_mart_frame,
)
from models.registry import Entry, champion
from models.train import NbaWpModel, ScoreModel, WpModel, line_prior
from models.trees import Forest

PAUSES = ("TIMEOUT", "END_QUARTER", "UNSPECIFIED", "COMMENT")  # feed rows where no play happens
OUTPUT_COLUMNS = ("game_id", "play_id", "home_wp", "home_wp_spread", "pred_home_score", "pred_away_score")
NBA_OUTPUT_COLUMNS = ("game_id", "action_id", "action_number", "home_wp")


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


def champions(con, sport: str, names: tuple[str, ...]) -> list[Entry]:
    """The registry's champions of `names`, or NoChampionError naming the missing ones and what to do."""
    entries = {name: champion(con, name) for name in names}
    missing = [name for name, entry in entries.items() if entry is None]
    if missing:
        raise NoChampionError(
            f"no champion model for {', '.join(missing)}: train the models first (`make demo`, "
            f"`playcast train {sport}`, or materialize the {sport}_models group in the Dagster UI)"
        )
    return list(entries.values())


@dataclass
class NflPredictor:
    """The champion win-probability and final-score models, loaded once."""

    wp: WpModel
    score: ScoreModel
    model_version: str
    training_seasons: list[int]

    @classmethod
    def from_registry(cls, con) -> NflPredictor:
        wp, score = champions(con, "nfl", ("nfl_wp", "nfl_score"))
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
        out = self.predict_frame(from_nflverse(pbp, source))
        out["play_id"] = out["play_id"].astype("Int64")  # nflverse stores play ids as doubles
        return out

    def predict_play(self, state: dict[str, float | None]) -> dict[str, float]:
        """One game state (model columns as a dict) → probabilities and predicted final scores, in process.

        Walks the boosters' trees in numpy (models.trees): for one row, xgboost's fixed cost per call is
        most of the time. The results equal predict_frame's (to 1e-7 for the probabilities).
        """
        values = np.array([np.nan if state[f] is None else state[f] for f in ALL_FEATURES], dtype=np.float32)
        prior = line_prior(state["total_line"], state["spread_line"], state["game_seconds_remaining"])
        margins = self.wp.base_margins(state)  # the WP boosters' own: their logistic regressions' log-odds
        (wp,), (wp_spread,), to_come = self._forest.predict(
            values, (margins["wp"], margins["wp_spread"], prior)
        )
        is_home = state["posteam_is_home"] > 0.5
        return {
            "home_wp": float(wp if is_home else 1 - wp),
            "home_wp_spread": float(wp_spread if is_home else 1 - wp_spread),
            "pred_home_score": float(state["home_score"] + max(to_come[0], 0.0)),
            "pred_away_score": float(state["away_score"] + max(to_come[1], 0.0)),
        }

    @cached_property
    def _forest(self) -> Forest:
        boosters = (self.wp.wp, self.wp.wp_spread, self.score.booster)
        positions = (_WP_INDEX, _WP_SPREAD_INDEX, _SCORE_INDEX)
        return Forest(list(zip(boosters, positions, strict=True)), len(ALL_FEATURES))


_WP_INDEX, _WP_SPREAD_INDEX, _SCORE_INDEX = (
    np.array([ALL_FEATURES.index(f) for f in features])
    for features in (WP_FEATURES, WP_SPREAD_FEATURES, SCORE_FEATURES)
)


@dataclass
class NbaPredictor:
    """The champion NBA win-probability model, loaded once."""

    wp: NbaWpModel
    model_version: str
    training_seasons: list[int]

    @classmethod
    def from_registry(cls, con) -> NbaPredictor:
        (wp,) = champions(con, "nba", ("nba_wp",))
        return cls(wp.load(), wp.label, wp.training_seasons)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """nba_mart_frame rows in; game_id, action_id, action_number, home_wp, model_version out."""
        out = frame.loc[:, ["game_id", "action_id", "action_number"]].reset_index(drop=True)
        home_wp = self.wp.predict(frame)["home_wp"]
        # the end of the last period is no game state of its own: the game is decided
        over = frame["ends_game"].fillna(False).to_numpy(dtype=bool)
        outcome = (frame["home_score_after"] > frame["away_score_after"]).to_numpy(dtype=float)
        out["home_wp"] = np.where(over, outcome, home_wp)
        out["model_version"] = self.model_version
        return out


def read_nba_actions(path: Path) -> pa.Table:
    """A PlayByPlayV3 file (parquet or csv with the mirror's season-file columns) as PBP_SCHEMA rows.

    Extra columns are dropped; missing ones raise MissingColumnsError naming the file and the columns.
    """
    from pyarrow import csv

    from ingest.nba_stats import PBP_SCHEMA

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
        elif path.name.endswith((".csv", ".csv.gz")):  # typed by name, so gameId keeps its leading zeros
            types = {f.name: f.type for f in PBP_SCHEMA}
            table = csv.read_csv(path, convert_options=csv.ConvertOptions(column_types=types))
        else:
            raise ValueError(f"{path}: expected a .parquet, .csv or .csv.gz file")
    except (pa.ArrowInvalid, OSError) as error:
        raise ValueError(f"{path}: cannot be read ({type(error).__name__}: {error})") from error
    missing = [f.name for f in PBP_SCHEMA if f.name not in table.column_names]
    if missing:
        raise MissingColumnsError(f"{path} lacks PlayByPlayV3 column(s): {', '.join(missing)}")
    try:
        table = table.select(PBP_SCHEMA.names).cast(PBP_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValueError(f"{path}: columns of the wrong type ({error})") from error
    counts = table.group_by(["gameId", "actionId"]).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1))
    if repeated.num_rows:  # the game state would join them with each other
        first = repeated.slice(0, 1).to_pylist()[0]
        raise ValueError(
            f"{path}: {repeated.num_rows} (gameId, actionId) pair(s) appear more than once, e.g. "
            f"{first['gameId']}/{first['actionId']} {first['count_all']} times: each action must appear once"
        )
    return table


def nba_features(actions: pa.Table, games: pa.Table | None) -> pd.DataFrame:
    """The rows of marts.nba_wp_features for `actions` (PBP_SCHEMA), by the mart's own SQL (the dbt macro
    `nba_wp_features_from_actions`, rendered once), as nba_mart_frame. `games`: raw.nba_games rows for
    labels and team strength; without them every action is still scored (labels and strength NaN)."""
    from ingest.nba_stats import GAMES_SCHEMA
    from warehouse.dbt_sql import live_nba_features_sql

    con = duckdb.connect()
    try:
        con.execute("create schema raw")
        con.register("games_input", games if games is not None else GAMES_SCHEMA.empty_table())
        con.execute("create table raw.nba_games as select * from games_input")
        con.register("live_actions", actions)
        con.execute(f"create table nba_features as {live_nba_features_sql()}")
        return nba_mart_frame(con, "nba_features")
    finally:
        con.close()


def warehouse_nba_games(con) -> pa.Table | None:
    """raw.nba_games from the warehouse, or None when it has no NBA games."""
    exists = "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = ?"
    if not con.execute(exists, ["nba_games"]).fetchone()[0]:
        return None
    cursor = con.cursor()  # its own result set: `con` may still hold the registry query's
    try:
        return cursor.sql("select * from raw.nba_games").to_arrow_table()
    finally:
        cursor.close()
