"""One micro-batch: Kafka records of known offsets → live tables → features (the marts' SQL) → predictions.

The same for every sport (live/sports.py says which tables, SQL and models). Records are decoded
column-wise (stream/batch_decode.py). Everything happens in one transaction, so a failed batch leaves the
warehouse as it was, and every write is keyed, so processing the same offsets again changes nothing.
Malformed events and rows of games that are not in the sport's games table (`raw.nfl_games`,
`raw.nba_games`) go to `live.dead_letters` with the reason; the rest of the batch goes on. Features are
recomputed from all rows seen so far of each game in the batch (state carries across batches, and a late or
out-of-order row corrects the predictions of the rows after it); they are not stored: the features view
gives the same from the stored rows. For the NBA, the batch's new actions then raise momentum alerts
(live/alerts.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from live.alerts import insert_alerts
from live.sports import Predictor, Sport
from live.tables import ensure_live_tables, unique_rows
from stream.batch_decode import INDEX, DecodedBatch, decode_batch
from stream.offsets import Record


@dataclass
class BatchResult:
    """What a batch did, for run metadata and tests."""

    events: int = 0
    new_events: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)  # reason → count
    decoded_one_by_one: int = 0  # events the column-wise decoder left to EventSchema.decode
    duplicate_rows: int = 0  # rows (plays, actions) received again at another offset
    games: list[str] = field(default_factory=list)
    new_predictions: int = 0
    revised_predictions: int = 0
    latency_seconds: list[float] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)  # new live.alerts rows
    seconds: dict[str, float] = field(default_factory=dict)  # stage → wall time (reading overlaps "store")

    def latency(self, quantile: float) -> float | None:
        return float(np.quantile(self.latency_seconds, quantile)) if self.latency_seconds else None

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - started, 3)


def use_system_allocator() -> None:
    """Have pyarrow allocate through the C library's malloc instead of its default (mimalloc), for the rest of
    the process. A scoring run is a fresh process: there, an NFL season's batch ran ~7 % faster this way (11
    of 12 interleaved rounds; the NBA's no different; BENCHMARKS.md). Call it at the start of a run."""
    pa.set_memory_pool(pa.system_memory_pool())


def _reject_unknown_games(con: duckdb.DuckDBPyConnection, batch: DecodedBatch, sport: Sport) -> pa.Table:
    """The rows of games in the sport's games table; the others become rejections in `batch`."""
    game_field = sport.events.id_fields[0]
    games = pc.unique(batch.rows.column(game_field)).to_pylist()
    games_id = f'"{sport.games_id}"'
    known = (
        con.execute(
            f"select list({games_id}) from {sport.games_table} where {games_id} in (select unnest(?))",
            [games],
        ).fetchall()[0][0]
        or []
    )
    is_known = pc.is_in(batch.rows.column(game_field), pa.array(known, pa.string()))
    unknown = batch.rows.filter(pc.invert(is_known))
    for index, game_id in zip(unknown[INDEX].to_pylist(), unknown[game_field].to_pylist(), strict=True):
        batch.rejected[index] = f"unknown game_id {game_id!r}: not in {sport.games_table}"
    return batch.rows.filter(is_known)


def _origin(source: str, records: Sequence[Record], run_id: str, now: datetime) -> pa.Table:
    """Where each record came from and which run received it, one row per record."""
    n = len(records)
    return pa.table({
        "source": pa.array([source] * n, pa.string()),
        "topic": pa.array([r.topic for r in records], pa.string()),
        "partition": pa.array([r.partition for r in records], pa.int32()),
        "offset": pa.array([r.offset for r in records], pa.int64()),
        "run_id": pa.array([run_id] * n, pa.string()),
        "received_at": pa.array([now] * n, pa.timestamp("us", "UTC")),
    })  # fmt: skip


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> int:
    """Insert rows, skipping keys already present; returns how many were new."""
    if not rows.num_rows:
        return 0
    before = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    con.register("_rows", rows)
    names = ", ".join(f'"{c}"' for c in rows.column_names)
    con.execute(f"insert or ignore into {table} ({names}) select {names} from _rows")
    con.unregister("_rows")
    return con.execute(f"select count(*) from {table}").fetchall()[0][0] - before


def _with(table: pa.Table, columns: dict[str, pa.Array | list]) -> pa.Table:
    """`table` with `columns` appended."""
    for name, column in columns.items():
        table = table.append_column(name, column if isinstance(column, pa.Array) else pa.array(column))
    return table


def process_batch(
    con: duckdb.DuckDBPyConnection,
    chunks: Iterable[Sequence[Record]],
    run_id: str,
    predictor: Predictor,
    feature_sql: str,
    source: str,
    sport: Sport,
) -> BatchResult:
    """Store, featurize and score one batch of records (from cluster `source`) in one transaction on `con`.

    The batch comes in chunks, e.g. from `ReadAhead(iter_ranges(...))` (stream/offsets.py): each is decoded
    and stored while the next one is read. `live.events` records every offset (its key, Kafka timestamp and
    status); the content of an accepted event is its decoded row in the sport's rows table, a rejected
    event's raw bytes are in `live.dead_letters` (the raw record stays in Kafka for its retention either way).
    """
    now = datetime.now(UTC)
    result = BatchResult()
    games: set[str] = set()
    con.execute("begin transaction")
    try:
        ensure_live_tables(con, sport, feature_sql)
        with result.timed("read_and_store"):
            for records in chunks:
                games.update(_store(con, records, result, source, run_id, now, sport))
        result.games = sorted(games)
        if result.games:
            with result.timed("features"):
                _features(con, result, feature_sql, sport)
            if sport.alerts:
                with result.timed("alerts"):
                    result.alerts = insert_alerts(con, sport, run_id, now)
            with result.timed("predict"):
                _predict(con, result, predictor, run_id, now, sport)
        with result.timed("commit"):
            con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def _store(
    con: duckdb.DuckDBPyConnection,
    records: Sequence[Record],
    result: BatchResult,
    source: str,
    run_id: str,
    now: datetime,
    sport: Sport,
) -> list[str]:
    """Decode and store one chunk of records (counted in `result`); returns the games of its rows."""
    batch = decode_batch(sport.events, sport.row_schema, [r.value for r in records])
    origin = _origin(source, records, run_id, now)
    rows = _reject_unknown_games(con, batch, sport)
    status = [sport.noun] * len(records)
    for index in batch.rejected:
        status[index] = "dead_letter"
    result.events += len(records)
    result.decoded_one_by_one += batch.one_by_one
    result.new_events += _insert(con, "live.events", _with(origin, {
        "key": [r.key.decode("utf-8", "replace") if r.key else None for r in records],
        "kafka_timestamp": pa.array([r.timestamp for r in records], pa.timestamp("ms", "UTC")),
        "status": status,
    }))  # fmt: skip
    dead = sorted(batch.rejected)
    _insert(con, "live.dead_letters", _with(origin.take(pa.array(dead, pa.int64())), {
        "value": pa.array([records[i].value for i in dead], pa.binary()),
        "reason": [batch.rejected[i] for i in dead],
    }))  # fmt: skip
    for reason in batch.rejected.values():
        kind = reason.split(":")[0]
        result.dead_letters[kind] = result.dead_letters.get(kind, 0) + 1
    accepted = origin.take(rows.column(INDEX))
    _insert(con, sport.rows_table, pa.Table.from_arrays(
        [*rows.drop_columns([INDEX]).columns, *accepted.columns],
        names=[*rows.column_names[1:], *accepted.column_names],
    ))  # fmt: skip
    return pc.unique(rows.column(sport.events.id_fields[0])).to_pylist()


def _features(con: duckdb.DuckDBPyConnection, result: BatchResult, feature_sql: str, sport: Sport) -> None:
    """Features of every row seen so far of the batch's games, with the marts' SQL (`live_features`, what
    the view `features_table` gives for these games)."""
    game = f'"{sport.events.id_fields[0]}"'
    con.execute("create or replace temp table batch_games as select unnest(?) as game_id", [result.games])
    in_batch = f"{game} in (select game_id from batch_games)"
    con.execute(f"create or replace temp view {sport.rows_relation} as {unique_rows(sport, in_batch)}")
    seen = con.execute(f"select count(*) from {sport.rows_table} where {in_batch}").fetchall()[0][0]
    result.duplicate_rows = seen - con.execute(f"select count(*) from {sport.rows_relation}").fetchall()[0][0]
    con.execute(f"create or replace temp table live_features as {feature_sql}")


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
