"""What the live path needs to know about a sport: its topic, event schema, tables, feature SQL and models.

The decoder, the micro-batch, the tables, the sensor and asset factories and the CLI read one `Sport`;
nothing else in the live path names a sport. Models and dbt-rendered SQL load only when a batch runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import duckdb
import pyarrow as pa

from ingest.nba_stats import PBP_SCHEMA
from ingest.nfl_game_feed import SCHEMA as FEED_SCHEMA
from stream import NBA_TOPIC, NFL_TOPIC
from stream.envelope import EventSchema
from stream.events import NFL_PLAY
from stream.nba_events import NBA_ACTION

if TYPE_CHECKING:
    import pandas as pd


class Predictor(Protocol):
    """A sport's champion models (models/predict.py): model columns in, predictions out, row for row."""

    model_version: str

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Sport:
    name: str  # 'nfl': names the Dagster assets, job, sensor and group
    topic: str
    events: EventSchema  # decodes a record; its id_fields are the game and row columns of the payload
    row_schema: pa.Schema  # the payload's columns and types, stored in `rows_table`
    noun: str  # what a row is ('play', 'action'): the events' status and the sensor's name
    games_table: str  # known games; an event of another game is a dead letter
    games_id: str  # the game id column of games_table
    rows_table: str  # decoded rows with their Kafka origin
    rows_relation: str  # the temp relation of all rows so far of the batch's games that feature_sql reads
    mart: str  # the feature mart the live features reproduce
    features_table: str  # a view: the mart's SQL over every live row
    predictions_table: str
    key: tuple[str, str]  # game and row columns of the features and predictions
    carried: tuple[tuple[str, str, str], ...]  # (prediction column, SQL type, rows_table column)
    prediction_columns: tuple[str, ...]  # double columns of predict_frame's output
    feature_sql: Callable[[], str]  # the mart's SQL over rows_relation and games_table
    predictor: Callable[[duckdb.DuckDBPyConnection], Predictor]  # the champion, from the registry
    frame: Callable[[duckdb.DuckDBPyConnection, str], pd.DataFrame]  # features relation -> model input
    alerts: bool = False  # momentum alerts (live/alerts.py) after each batch
    zstd_columns: tuple[str, ...] = ()  # long free text of rows_table, stored with zstd (live/tables.py)

    @property
    def row_columns(self) -> list[str]:
        return [f.name for f in self.row_schema]

    @property
    def op_name(self) -> str:  # the micro-batch multi-asset
        return f"score_{self.name}_microbatch"

    @property
    def job_name(self) -> str:
        return f"{self.name}_live_scoring"

    @property
    def sensor_name(self) -> str:
        return f"{self.name}_{self.noun}s_sensor"


def _lazy(module: str, attribute: str) -> Callable:
    """`module.attribute` (dotted), imported on first call: the live code location stays light."""

    def call(*args):
        target = importlib.import_module(module)
        for name in attribute.split("."):
            target = getattr(target, name)
        return target(*args)

    return call


NFL = Sport(
    name="nfl",
    topic=NFL_TOPIC,
    events=NFL_PLAY,
    row_schema=FEED_SCHEMA,
    noun="play",
    games_table="raw.nfl_games",
    games_id="game_id",
    rows_table="live.nfl_plays",
    rows_relation="live_plays",
    mart="marts.nfl_wp_features",
    features_table="live.nfl_wp_features",
    predictions_table="live.nfl_win_probability",
    key=("game_id", "play_id"),
    carried=(("play_sequence", "double", "play_sequence"),),
    prediction_columns=("home_wp", "home_wp_spread", "pred_home_score", "pred_away_score"),
    feature_sql=_lazy("warehouse.dbt_sql", "live_nfl_features_sql"),
    predictor=_lazy("models.predict", "NflPredictor.from_registry"),
    frame=_lazy("models.features", "mart_frame"),
    zstd_columns=("stats", "description", "pre_play"),
)
NBA = Sport(
    name="nba",
    topic=NBA_TOPIC,
    events=NBA_ACTION,
    row_schema=PBP_SCHEMA,
    noun="action",
    games_table="raw.nba_games",
    games_id="GAME_ID",
    rows_table="live.nba_actions",
    rows_relation="live_actions",
    mart="marts.nba_wp_features",
    features_table="live.nba_wp_features",
    predictions_table="live.nba_win_probability",
    key=("game_id", "action_id"),
    carried=(("action_number", "bigint", "actionNumber"),),
    prediction_columns=("home_wp",),
    feature_sql=_lazy("warehouse.dbt_sql", "live_nba_features_sql"),
    predictor=_lazy("models.predict", "NbaPredictor.from_registry"),
    frame=_lazy("models.features", "nba_mart_frame"),
    alerts=True,
)
SPORTS = {sport.name: sport for sport in (NFL, NBA)}
