"""The `live` schema: every consumed record (a ledger: origin, key, status), rejected ones with their raw
bytes, and per sport the decoded rows, their features, predictions and (NBA) momentum alerts.

Keys make re-processing harmless: a record is stored once per (cluster, topic, partition, offset), a
prediction once per (game_id, play_id) or (game_id, action_id), an alert once per (game_id, action_id, kind).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from live.sports import Sport

_SQL_TYPES = {pa.int32(): "integer", pa.int64(): "bigint", pa.float64(): "double", pa.string(): "varchar",
              pa.bool_(): "boolean"}  # fmt: skip
# where a record came from: the cluster (offsets restart in a new cluster), topic, partition, offset
ORIGIN = (
    "source varchar not null, "
    + '"topic" varchar not null, "partition" integer not null, "offset" bigint not null'
)

SHARED_DDL = f"""
create schema if not exists live;
create table if not exists live.events (
    {ORIGIN},
    key varchar,
    kafka_timestamp timestamptz,
    status varchar not null,            -- the sport's row noun ('play', 'action') or 'dead_letter'
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
"""
ALERTS_DDL = """
create table if not exists live.alerts (
    game_id varchar not null,
    action_id bigint not null,
    kind varchar not null,              -- 'scoring_run' | 'lead_change'
    team varchar,                       -- the team on the run / the new leader
    detail varchar not null,            -- 'BOS 10-0 run', 'BOS leads 101-99'
    period bigint,
    clock varchar,
    home_score bigint,                  -- after the action
    away_score bigint,
    run_id varchar not null,
    alerted_at timestamptz not null,
    primary key (game_id, action_id, kind)
);
"""


def _rows_ddl(sport: Sport) -> str:
    """The rows table. Its `zstd_columns` use zstd: for the NFL feed's 2.3 kB of `stats` JSON per play,
    DuckDB's own choice (FSST with a dictionary) stored a season in 16 MB more and made a season's batch
    commit slower (BENCHMARKS.md). A table made before they were declared is copied once (`_declare_zstd`)."""
    zstd = {name: " using compression zstd" for name in sport.zstd_columns}
    columns = ",\n    ".join(
        f'"{f.name}" {_SQL_TYPES[f.type]}{zstd.get(f.name, "")}' for f in sport.row_schema
    )
    return f"""
create table if not exists {sport.rows_table} (
    {columns},
    {ORIGIN},
    event_time varchar,
    sent_at varchar,
    run_id varchar not null,
    received_at timestamptz not null,
    primary key (source, "topic", "partition", "offset")
);"""


def _declare_zstd(con: duckdb.DuckDBPyConnection, sport: Sport) -> None:
    """Copy a rows table made without its `zstd_columns`' compression into one with it (DuckDB cannot alter a
    column's compression); nothing when the table is new or already declares them."""
    schema, name = sport.rows_table.split(".")
    made = con.execute(
        "select upper(sql) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
    ).fetchall()
    if not made or all(
        f"{c.upper()} VARCHAR USING COMPRESSION ZSTD" in made[0][0] for c in sport.zstd_columns
    ):
        return
    con.execute(f"alter table {sport.rows_table} rename to {name}_before_zstd")
    con.execute(_rows_ddl(sport))
    con.execute(f"insert into {sport.rows_table} by name select * from {schema}.{name}_before_zstd")
    con.execute(f"drop table {schema}.{name}_before_zstd")


def _predictions_ddl(sport: Sport) -> str:
    game, row = sport.key
    carried = "".join(f"\n    {column} {sql_type}," for column, sql_type, _ in sport.carried)
    values = "".join(f"\n    {column} double," for column in sport.prediction_columns)
    return f"""
create table if not exists {sport.predictions_table} (
    {game} varchar not null,
    {row} bigint not null,{carried}{values}
    model_version varchar not null,
    run_id varchar not null,
    {ORIGIN},
    event_time varchar,
    sent_at varchar,
    scored_at timestamptz not null,
    primary key ({game}, {row})
);"""


def unique_rows(sport: Sport, where: str = "true") -> str:
    """The sport's live rows matching `where`, each (game, row) once: the first one received wins."""
    game, row = (f'"{c}"' for c in sport.events.id_fields)
    first = f'row_number() over (partition by {game}, {row} order by received_at, "partition", "offset") = 1'
    return f"select * from {sport.rows_table} where {where} qualify {first}"


def ensure_live_tables(con: duckdb.DuckDBPyConnection, sport: Sport, feature_sql: str) -> None:
    """The live tables, and the features view: the mart's SQL (`feature_sql`) over every live row, so the
    features always agree with the rows, and parity with the mart is a plain comparison."""
    _declare_zstd(con, sport)
    con.execute(
        SHARED_DDL + _rows_ddl(sport) + _predictions_ddl(sport) + (ALERTS_DDL if sport.alerts else "")
    )
    schema, name = sport.features_table.split(".")
    kind = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    if kind == [("BASE TABLE",)]:  # made by playcast before the features became a view
        con.execute(f"drop table {sport.features_table}")
    con.execute(
        f"create or replace view {sport.features_table} as "
        f"with {sport.rows_relation} as ({unique_rows(sport)}) select * from ({feature_sql})"
    )
