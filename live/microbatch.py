"""One micro-batch: Kafka records of known offsets → live tables → features (the marts' SQL) → predictions.

The same for every sport (live/sports.py says which tables, SQL and models). Everything happens in one
transaction, so a failed batch leaves the warehouse as it was, and every write is keyed, so processing the
same offsets again changes nothing. Malformed events and rows of games that are not in the sport's games
table (`raw.nfl_games`, `raw.nba_games`) go to `live.dead_letters` with the reason; the rest of the batch
goes on. Features are recomputed from all rows seen so far of each game in the batch (state carries across
batches, and a late or out-of-order row corrects the predictions of the rows after it). For the NBA, the
batch's new actions then raise momentum alerts (live/alerts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from live.alerts import insert_alerts
from live.sports import Predictor, Sport
from live.tables import ensure_live_tables
from stream.envelope import InvalidEvent
from stream.offsets import Record


@dataclass
class BatchResult:
    """What a batch did, for run metadata and tests."""

    events: int = 0
    new_events: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)  # reason → count
    duplicate_rows: int = 0  # rows (plays, actions) received again at another offset
    games: list[str] = field(default_factory=list)
    new_predictions: int = 0
    revised_predictions: int = 0
    latency_seconds: list[float] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)  # new live.alerts rows

    def latency(self, quantile: float) -> float | None:
        return float(np.quantile(self.latency_seconds, quantile)) if self.latency_seconds else None


def _decode(
    con: duckdb.DuckDBPyConnection, records: Sequence[Record], sport: Sport
) -> tuple[list[Record], list[dict], list[tuple[Record, str]]]:
    """Split records into those of known games with their events, and (record, reason) rejections."""
    decoded, rejected = [], []
    for record in records:
        try:
            decoded.append((record, sport.events.decode(record.value)))
        except InvalidEvent as error:
            rejected.append((record, str(error)))
    payload, game_field = sport.events.payload, sport.events.id_fields[0]
    game_ids = sorted({event[payload][game_field] for _, event in decoded})
    known = {
        row[0]
        for row in con.execute(
            f'select "{sport.games_id}" from {sport.games_table} '
            f'where "{sport.games_id}" in (select unnest(?))',
            [game_ids],
        ).fetchall()
    }
    accepted, events = [], []
    for record, event in decoded:
        game_id = event[payload][game_field]
        if game_id in known:
            accepted.append(record)
            events.append(event)
        else:
            rejected.append((record, f"unknown game_id {game_id!r}: not in {sport.games_table}"))
    return accepted, events, rejected


def _origin(source: str, records: Sequence[Record], run_id: str, now: datetime) -> dict[str, list]:
    """Columns of where each record came from and which run received it."""
    n = len(records)
    return {
        "source": [source] * n,
        "topic": [r.topic for r in records],
        "partition": pa.array([r.partition for r in records], pa.int32()),
        "offset": pa.array([r.offset for r in records], pa.int64()),
        "run_id": [run_id] * n,
        "received_at": pa.array([now] * n, pa.timestamp("us", "UTC")),
    }


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list | pa.Array]) -> int:
    """Insert rows given as columns, skipping keys already present; returns how many were new."""
    rows = pa.table(columns)
    if not rows.num_rows:
        return 0
    before = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    con.register("_rows", rows)
    names = ", ".join(f'"{c}"' for c in columns)
    con.execute(f"insert or ignore into {table} ({names}) select {names} from _rows")
    con.unregister("_rows")
    return con.execute(f"select count(*) from {table}").fetchall()[0][0] - before


def process_batch(
    con: duckdb.DuckDBPyConnection,
    records: Sequence[Record],
    run_id: str,
    predictor: Predictor,
    feature_sql: str,
    source: str,
    sport: Sport,
) -> BatchResult:
    """Store, featurize and score one batch of records (from cluster `source`) in one transaction on `con`.

    `live.events` records every offset (its key, Kafka timestamp and status); the content of an accepted
    event is its decoded row in the sport's rows table, a rejected event's raw bytes are in
    `live.dead_letters` (the raw record stays in Kafka for its retention either way).
    """
    now = datetime.now(UTC)
    result = BatchResult(events=len(records))
    con.execute("begin transaction")
    try:
        ensure_live_tables(con, sport)
        accepted, events, rejected = _decode(con, records, sport)
        dead = {(r.partition, r.offset) for r, _ in rejected}
        result.new_events = _insert(con, "live.events", {
            **_origin(source, records, run_id, now),
            "key": [r.key.decode("utf-8", "replace") if r.key else None for r in records],
            "kafka_timestamp": pa.array([r.timestamp for r in records], pa.int64()).cast(
                pa.timestamp("ms", "UTC")),
            "status": ["dead_letter" if (r.partition, r.offset) in dead else sport.noun for r in records],
        })  # fmt: skip
        _insert(con, "live.dead_letters", {
            **_origin(source, [r for r, _ in rejected], run_id, now),
            "value": pa.array([r.value for r, _ in rejected], pa.binary()),
            "reason": [reason for _, reason in rejected],
        })  # fmt: skip
        for _, reason in rejected:
            kind = reason.split(":")[0]
            result.dead_letters[kind] = result.dead_letters.get(kind, 0) + 1
        payloads = [e[sport.events.payload] for e in events]
        _insert(con, sport.rows_table, {
            **{name: pa.array([p[name] for p in payloads], sport.row_schema.field(name).type)
               for name in sport.row_columns},
            **_origin(source, accepted, run_id, now),
            "event_time": [e["event_time"] for e in events],
            "sent_at": [e["sent_at"] for e in events],
        })  # fmt: skip
        result.games = sorted({p[sport.events.id_fields[0]] for p in payloads})
        if result.games:
            _features(con, result, feature_sql, sport)
            if sport.alerts:
                result.alerts = insert_alerts(con, sport, run_id, now)
            _predict(con, result, predictor, run_id, now, sport)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def _features(con: duckdb.DuckDBPyConnection, result: BatchResult, feature_sql: str, sport: Sport) -> None:
    """Features of every row seen so far of the batch's games, with the marts' SQL; first offset wins."""
    game, row = (f'"{c}"' for c in sport.events.id_fields)
    con.execute("create or replace temp table batch_games as select unnest(?) as game_id", [result.games])
    con.execute(f"""
        create or replace temp table {sport.rows_relation} as
        select * from {sport.rows_table} where {game} in (select game_id from batch_games)
        qualify row_number() over (partition by {game}, {row} order by received_at, "partition", "offset") = 1
    """)
    seen = con.execute(
        f"select count(*) from {sport.rows_table} where {game} in (select game_id from batch_games)"
    ).fetchall()[0][0]
    result.duplicate_rows = seen - con.execute(f"select count(*) from {sport.rows_relation}").fetchall()[0][0]
    con.execute(f"create or replace temp table live_features as {feature_sql}")
    con.execute(f"delete from {sport.features_table} where game_id in (select game_id from batch_games)")
    con.execute(f"insert into {sport.features_table} by name select * from live_features")


def _predict(
    con: duckdb.DuckDBPyConnection,
    result: BatchResult,
    predictor: Predictor,
    run_id: str,
    now: datetime,
    sport: Sport,
) -> None:
    """Score every row of the batch's games; new rows are inserted, changed ones (late rows) revised."""
    frame = sport.frame(con, "live_features")
    if frame.empty:
        return
    con.register("_scored", predictor.predict_frame(frame))
    table, (game, row) = sport.predictions_table, sport.key
    game_field, row_field = sport.events.id_fields
    values = sport.prediction_columns
    changed = " or ".join(f"w.{c} is distinct from s.{c}" for c in values)
    existing, revised = con.execute(
        f"select count(*), count(*) filter (where {changed}) "
        f"from _scored s join {table} w using ({game}, {row})"
    ).fetchall()[0]
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*values, "model_version", "run_id", "scored_at"))
    carried = "".join(f'p."{column}", ' for _, _, column in sport.carried)
    con.execute(
        f"""
        insert into {table}
        select s.{game}, s.{row}, {carried}{", ".join(f"s.{c}" for c in values)}, s.model_version, $run_id,
               p.source, p."topic", p."partition", p."offset", p.event_time, p.sent_at, $now
        from _scored s join {sport.rows_relation} p
            on s.{game} = p."{game_field}" and s.{row} = p."{row_field}"
        on conflict ({game}, {row}) do update set {updates}
        where {changed.replace("w.", f"{table}.").replace("s.", "excluded.")}
        """,
        {"run_id": run_id, "now": now},
    )
    con.unregister("_scored")
    result.new_predictions = len(frame) - existing
    result.revised_predictions = revised
    result.latency_seconds = [
        r[0]
        for r in con.execute(
            f"select epoch(scored_at - try_cast(sent_at as timestamptz)) from {table} "
            "where run_id = $run_id and scored_at = $now and sent_at is not null",
            {"run_id": run_id, "now": now},
        ).fetchall()
        if r[0] is not None
    ]
