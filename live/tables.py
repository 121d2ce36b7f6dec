"""The `live` schema: every consumed record, rejected ones, decoded plays, their features and predictions.

Keys make re-processing harmless: a record is stored once per (cluster, topic, partition, offset), a
prediction once per (game_id, play_id).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from ingest.nfl_game_feed import SCHEMA as FEED_SCHEMA

_SQL_TYPES = {pa.int32(): "integer", pa.int64(): "bigint", pa.float64(): "double", pa.string(): "varchar",
              pa.bool_(): "boolean"}  # fmt: skip
# where a record came from: the cluster (offsets restart in a new cluster), topic, partition, offset
ORIGIN = (
    "source varchar not null, "
    + '"topic" varchar not null, "partition" integer not null, "offset" bigint not null'
)
FEED_COLUMNS = [field.name for field in FEED_SCHEMA]


def _feed_columns_sql() -> str:
    return ",\n    ".join(f'"{f.name}" {_SQL_TYPES[f.type]}' for f in FEED_SCHEMA)


DDL = f"""
create schema if not exists live;
create table if not exists live.events (
    {ORIGIN},
    key varchar,
    value blob,
    kafka_timestamp timestamptz,
    status varchar not null,            -- 'play' or 'dead_letter'
    run_id varchar not null,
    received_at timestamptz not null,
    primary key (source, "topic", "partition", "offset")
);
create table if not exists live.dead_letters (
    {ORIGIN},
    value blob,
    reason varchar not null,
    run_id varchar not null,
    received_at timestamptz not null,
    primary key (source, "topic", "partition", "offset")
);
create table if not exists live.nfl_plays (
    {_feed_columns_sql()},
    {ORIGIN},
    event_time varchar,
    sent_at varchar,
    run_id varchar not null,
    received_at timestamptz not null,
    primary key (source, "topic", "partition", "offset")
);
create table if not exists live.nfl_win_probability (
    game_id varchar not null,
    play_id bigint not null,
    play_sequence double,
    home_wp double,
    home_wp_spread double,
    pred_home_score double,
    pred_away_score double,
    model_version varchar not null,
    run_id varchar not null,
    {ORIGIN},
    event_time varchar,
    sent_at varchar,
    scored_at timestamptz not null,
    primary key (game_id, play_id)
);
"""


def ensure_live_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)
    # the features table has exactly the mart's columns, so parity with the mart is a plain comparison
    con.execute(
        "create table if not exists live.nfl_wp_features as select * from marts.nfl_wp_features limit 0"
    )
