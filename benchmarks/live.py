"""Live scoring speed: latency through the real daemon and broker, and the throughput of a backlog.

Usage (after `make demo`, which builds the warehouse and trains the champions):
    PLAYCAST_DATA_MIRROR=../shared/data .venv/bin/python -m benchmarks.live [--plays 120] [--interval 0.5]
        [--season 2023] [--nba-season 2024-25 --nba-games 100] [--part throughput|latency]
Works on a copy of the warehouse, a fresh Dagster instance and a local broker on a free port; prints numbers.
Throughput: an NFL season's backlog, and (when the warehouse has the NBA mart and champion) the first
--nba-games games of an NBA season (100 games are ~50k actions, an NFL season's size and one run's cap).
"""

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
from kafka import KafkaProducer

from live.microbatch import process_batch
from live.sports import NBA, NFL, Sport
from stream import NFL_TOPIC
from stream.broker import LocalBroker
from stream.events import encode
from stream.nba_replay import replay_nba
from stream.nba_replay import season_game_ids as nba_season_game_ids
from stream.offsets import cluster_id, high_watermarks, read_ranges
from stream.replay import ReplayStats, load_game, replay_nfl, season_game_ids
from tests.kafka_fixtures import free_port
from tests.pipeline import dagster_home, start_daemon
from warehouse import warehouse_path

GAME = "2023_21_DET_SF"  # not the demo's game, so its predictions are new


def percentiles(values) -> str:
    return " / ".join(f"{np.percentile(values, q):.2f}" for q in (50, 95)) + " s (p50 / p95)"


def latency(root: Path, warehouse: Path, plays: int, interval: float) -> None:
    """Publish one play every `interval` seconds while the daemon's sensor launches scoring runs."""
    with LocalBroker(f"127.0.0.1:{free_port()}") as broker:
        home = dagster_home(root)
        env = {**os.environ, "DAGSTER_HOME": str(home), "PLAYCAST_WAREHOUSE": str(warehouse),
               "PLAYCAST_KAFKA_BOOTSTRAP": broker.bootstrap}  # fmt: skip
        daemon = start_daemon(env)
        try:
            time.sleep(15)  # let the daemon load both code locations and tick once
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
            rows = load_game(GAME)[:plays]
            for row in rows:
                producer.send(NFL_TOPIC, key=row["game_id"].encode(), value=encode(row))
                producer.flush()
                time.sleep(interval)
            deadline = time.monotonic() + 120
            instance = dg.DagsterInstance.from_config(str(home))
            while time.monotonic() < deadline and _events_scored(instance) < len(rows):
                time.sleep(1)  # asks Dagster, not the warehouse file: a reader would block the runs' writes
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
        source = cluster_id(broker.bootstrap)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        first_sent = dict(con.execute(
            "select run_id, epoch(min(cast(sent_at as timestamptz))) from live.nfl_plays "
            "where source = ? group by 1",
            [source],
        ).fetchall())  # fmt: skip
        scored = [r[0] for r in con.execute(
            """select epoch(w.scored_at - cast(w.sent_at as timestamptz)) from live.nfl_win_probability w
               where w.source = ?""", [source]
        ).fetchall()]  # fmt: skip
    instance = dg.DagsterInstance.from_config(str(home))
    runs = [r for r in instance.get_runs() if r.job_name == "nfl_live_scoring"]
    records = {
        r.dagster_run.run_id: r for r in instance.get_run_records(dg.RunsFilter(job_name="nfl_live_scoring"))
    }
    launched = {r.run_id: _event_time(instance, r.run_id, dg.DagsterEventType.RUN_STARTING) for r in runs}
    queued = [launched[r.run_id] - records[r.run_id].create_timestamp.timestamp() for r in runs]
    launch = [records[r.run_id].start_time - launched[r.run_id] for r in runs]
    execute = [records[r.run_id].end_time - records[r.run_id].start_time for r in runs]
    ticked = [
        records[r.run_id].create_timestamp.timestamp() - first_sent[r.run_id]
        for r in runs
        if r.run_id in first_sent
    ]
    print(
        f"Latency, {len(rows)} plays, one every {interval} s, scored through the daemon ({len(runs)} runs):"
    )
    print(f"  event produced → prediction row written     {percentiles(scored)}  (targets 8 / 12 s)")
    print(f"  first event of a run produced → run created {percentiles(ticked)}  (sensor: 5 s tick floor)")
    print(f"  run created → launching (run queue)        {percentiles(queued)}")
    print(f"  launching → run started (process, imports) {percentiles(launch)}")
    print(f"  run started → run finished                  {percentiles(execute)}")
    print(f"  plays scored: {len(scored)} of {len(rows)} (plays without a possession team get none)")


def _event_time(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> float:
    (record,) = instance.get_records_for_run(run_id, of_type=kind).records
    return record.event_log_entry.timestamp


def _events_scored(instance: dg.DagsterInstance) -> int:
    """Events of the NFL topic that scoring runs have materialized so far."""
    records = instance.fetch_materializations(dg.AssetKey(["live", "nfl_events"]), limit=10_000).records
    return sum(r.asset_materialization.metadata["events"].value for r in records)


def throughput(warehouse: Path, sport: Sport, replay: Callable[[str], ReplayStats], label: str) -> None:
    """A backlog scored in one micro-batch, next to kafka-python reading the same offsets."""
    with LocalBroker(f"127.0.0.1:{free_port()}") as broker:
        stats = replay(broker.bootstrap)
        ranges = {p: (0, end) for p, end in high_watermarks(broker.bootstrap, sport.topic, {}).items() if end}
        started = time.perf_counter()
        records = read_ranges(broker.bootstrap, sport.topic, ranges)
        read = time.perf_counter() - started
        with duckdb.connect(str(warehouse)) as con:
            predictor = sport.predictor(con)
            sql = sport.feature_sql()
            started = time.perf_counter()
            result = process_batch(
                con, records, "benchmark", predictor, sql, cluster_id(broker.bootstrap), sport
            )
            scored = time.perf_counter() - started
    print(f"Throughput, {label} backlog ({stats.events} events of {stats.games} games) in one batch:")
    for name, seconds in (
        ("kafka-python reading the offsets (raw consume)", read),
        ("warehouse write + features + scoring", scored),
        ("end to end (read + score)", read + scored),
    ):
        print(f"  {name:<48} {seconds:6.2f} s  {len(records) / seconds:9,.0f} events/s")
    ratio = read / (read + scored)
    print(f"  end to end runs at {ratio:.2f}x the raw consume rate; {result.new_predictions} predictions")


def _has_nba(warehouse: Path) -> bool:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return bool(con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts' "
            "and table_name = 'nba_wp_features'"
        ).fetchall()[0][0])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plays", type=int, default=120)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--season", type=int, default=2023)
    parser.add_argument("--nba-season", default="2024-25")
    parser.add_argument("--nba-games", type=int, default=100)
    parser.add_argument("--part", choices=["all", "throughput", "latency"], default="all")
    args = parser.parse_args()
    quiet = {"speed": "max", "progress": lambda _: None}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        copy = root / "playcast.duckdb"
        shutil.copy(warehouse_path(), copy)
        if args.part in ("all", "throughput"):
            throughput(
                copy,
                NFL,
                lambda b: replay_nfl(b, season_game_ids(args.season), **quiet),
                f"NFL season {args.season}",
            )
            if _has_nba(copy):
                games = nba_season_game_ids(args.nba_season)[: args.nba_games]
                label = f"NBA {args.nba_season} ({len(games)} games)"
                throughput(copy, NBA, lambda b: replay_nba(b, games, **quiet), label)
        if args.part in ("all", "latency"):
            latency(root, copy, args.plays, args.interval)


if __name__ == "__main__":
    main()
