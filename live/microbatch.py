"""One micro-batch: Kafka records of known offsets → live tables → features (the marts' SQL) → predictions.

Everything happens in one transaction, so a failed batch leaves the warehouse as it was, and every write is
keyed, so processing the same offsets again changes nothing. Malformed events and plays of games that are
not in `raw.nfl_games` go to `live.dead_letters` with the reason; the rest of the batch goes on.
Features are recomputed from all plays seen so far of each game in the batch (state carries across
batches, and a late or out-of-order play corrects the predictions of the plays after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from live.tables import FEED_COLUMNS, ensure_live_tables
from models.features import mart_frame
from models.predict import NflPredictor
from stream.events import InvalidEvent, decode
from stream.offsets import Record

PREDICTION_VALUES = ("home_wp", "home_wp_spread", "pred_home_score", "pred_away_score")


@dataclass
class BatchResult:
    """What a batch did, for run metadata and tests."""

    events: int = 0
    new_events: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)  # reason → count
    duplicate_plays: int = 0
    games: list[str] = field(default_factory=list)
    new_predictions: int = 0
    revised_predictions: int = 0
    latency_seconds: list[float] = field(default_factory=list)

    def latency(self, quantile: float) -> float | None:
        return float(np.quantile(self.latency_seconds, quantile)) if self.latency_seconds else None


def _decode(con: duckdb.DuckDBPyConnection, records: Sequence[Record]) -> tuple[list[tuple], list[tuple]]:
    """Split records into (record, event) plays of known games and (record, reason) rejections."""
    decoded, rejected = [], []
    for record in records:
        try:
            decoded.append((record, decode(record.value)))
        except InvalidEvent as error:
            rejected.append((record, str(error)))
    game_ids = sorted({event["play"]["game_id"] for _, event in decoded})
    known = {
        row[0]
        for row in con.execute(
            "select game_id from raw.nfl_games where game_id in (select unnest(?))", [game_ids]
        ).fetchall()
    }
    plays = []
    for record, event in decoded:
        game_id = event["play"]["game_id"]
        if game_id in known:
            plays.append((record, event))
        else:
            rejected.append((record, f"unknown game_id {game_id!r}: not in raw.nfl_games"))
    return plays, rejected


def _origin(source: str, record: Record) -> dict:
    return {"source": source, "topic": record.topic, "partition": record.partition, "offset": record.offset}


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> int:
    """Insert rows, skipping keys already present; returns how many were new."""
    if not rows:
        return 0
    before = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    con.register("_rows", pa.table({column: [row[column] for row in rows] for column in rows[0]}))
    columns = ", ".join(f'"{c}"' for c in rows[0])
    con.execute(f"insert or ignore into {table} ({columns}) select {columns} from _rows")
    con.unregister("_rows")
    return con.execute(f"select count(*) from {table}").fetchall()[0][0] - before


def process_batch(
    con: duckdb.DuckDBPyConnection,
    records: Sequence[Record],
    run_id: str,
    predictor: NflPredictor,
    feature_sql: str,
    source: str,
) -> BatchResult:
    """Store, featurize and score one batch of records (from cluster `source`) in one transaction on `con`."""
    now = datetime.now(UTC)
    result = BatchResult(events=len(records))
    con.execute("begin transaction")
    try:
        ensure_live_tables(con)
        plays, rejected = _decode(con, records)
        statuses = {(r.partition, r.offset): "dead_letter" for r, _ in rejected}
        result.new_events = _insert(con, "live.events", [
            {**_origin(source, r), "key": r.key.decode() if r.key else None, "value": r.value,
             "kafka_timestamp": datetime.fromtimestamp(r.timestamp / 1000, UTC),
             "status": statuses.get((r.partition, r.offset), "play"), "run_id": run_id, "received_at": now}
            for r in records
        ])  # fmt: skip
        _insert(con, "live.dead_letters", [
            {**_origin(source, r), "value": r.value, "reason": reason, "run_id": run_id, "received_at": now}
            for r, reason in rejected
        ])  # fmt: skip
        for _, reason in rejected:
            kind = reason.split(":")[0]
            result.dead_letters[kind] = result.dead_letters.get(kind, 0) + 1
        _insert(con, "live.nfl_plays", [
            {**{c: e["play"][c] for c in FEED_COLUMNS}, **_origin(source, r), "event_time": e["event_time"],
             "sent_at": e["sent_at"], "run_id": run_id, "received_at": now}
            for r, e in plays
        ])  # fmt: skip
        result.games = sorted({e["play"]["game_id"] for _, e in plays})
        if result.games:
            _features(con, result, feature_sql)
            _predict(con, result, predictor, run_id, now)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def _features(con: duckdb.DuckDBPyConnection, result: BatchResult, feature_sql: str) -> None:
    """Features of every play seen so far of the batch's games, with the marts' SQL; first offset wins."""
    con.execute("create or replace temp table batch_games as select unnest(?) as game_id", [result.games])
    con.execute("""
        create or replace temp table live_plays as
        select * from live.nfl_plays where game_id in (select game_id from batch_games)
        qualify row_number() over (
            partition by game_id, play_id order by received_at, "partition", "offset"
        ) = 1
    """)
    seen = con.execute(
        "select count(*) from live.nfl_plays where game_id in (select game_id from batch_games)"
    ).fetchall()[0][0]
    result.duplicate_plays = seen - con.execute("select count(*) from live_plays").fetchall()[0][0]
    con.execute(f"create or replace temp table live_features as {feature_sql}")
    con.execute("delete from live.nfl_wp_features where game_id in (select game_id from batch_games)")
    con.execute("insert into live.nfl_wp_features by name select * from live_features")


def _predict(
    con: duckdb.DuckDBPyConnection, result: BatchResult, predictor: NflPredictor, run_id: str, now: datetime
) -> None:
    """Score every play of the batch's games; new plays are inserted, changed ones (late plays) revised."""
    frame = mart_frame(con, "live_features")
    if frame.empty:
        return
    con.register("_scored", predictor.predict_frame(frame))
    changed = " or ".join(f"w.{c} is distinct from s.{c}" for c in PREDICTION_VALUES)
    existing, revised = con.execute(
        f"select count(*), count(*) filter (where {changed}) "
        "from _scored s join live.nfl_win_probability w using (game_id, play_id)"
    ).fetchall()[0]
    updates = ", ".join(
        f"{c} = excluded.{c}" for c in (*PREDICTION_VALUES, "model_version", "run_id", "scored_at")
    )
    con.execute(
        f"""
        insert into live.nfl_win_probability
        select s.game_id, s.play_id, p.play_sequence, s.home_wp, s.home_wp_spread,
               s.pred_home_score, s.pred_away_score, s.model_version, $run_id,
               p.source, p."topic", p."partition", p."offset", p.event_time, p.sent_at, $now
        from _scored s join live_plays p using (game_id, play_id)
        on conflict (game_id, play_id) do update set {updates}
        where {changed.replace("w.", "live.nfl_win_probability.").replace("s.", "excluded.")}
        """,
        {"run_id": run_id, "now": now},
    )
    con.unregister("_scored")
    result.new_predictions = len(frame) - existing
    result.revised_predictions = revised
    result.latency_seconds = [
        r[0]
        for r in con.execute(
            "select epoch(scored_at - try_cast(sent_at as timestamptz)) from live.nfl_win_probability "
            "where run_id = $run_id and scored_at = $now and sent_at is not null",
            {"run_id": run_id, "now": now},
        ).fetchall()
        if r[0] is not None
    ]
