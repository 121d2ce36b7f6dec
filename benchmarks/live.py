"""Live scoring speed: latency through the real daemon and broker, and the throughput of a backlog.

Usage (after `make demo`, which builds the warehouse and trains the champions):
    PLAYCAST_DATA_MIRROR=../shared/data .venv/bin/python -m benchmarks.live [--plays 120] [--interval 0.5]
        [--season 2023] [--nba-season 2024-25 --nba-games 100] [--part throughput|backlog|latency]
        [--sport nfl|nba|both] [--during-retraining] [--repeat N]
Works on a copy of the warehouse, a fresh Dagster instance and a local broker on a free port; prints numbers.
Throughput: an NFL season's backlog, and (when the warehouse has the NBA mart and champion) the first
--nba-games games of an NBA season (100 games are ~50k actions, an NFL season's size):
in one batch as a run scores it (`throughput`), and through the daemon, sensor and run launches (`backlog`).
"""

import argparse
import gc
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import yaml
from dagster._core.scheduler.instigation import TickStatus  # (dagster is pinned to 1.13.x)
from kafka import KafkaProducer

import orchestration
from live.microbatch import process_batch, use_system_allocator
from live.sports import NBA, NFL, SPORTS, Sport
from stream.broker import LocalBroker
from stream.events import encode
from stream.nba_events import NBA_ACTION
from stream.nba_replay import load_games as load_nba_games
from stream.nba_replay import replay_nba
from stream.nba_replay import season_game_ids as nba_season_game_ids
from stream.offsets import ReadAhead, cluster_id, high_watermarks, iter_ranges, read_ranges
from stream.replay import ReplayStats, load_game, replay_nfl, season_game_ids
from tests.kafka_fixtures import free_port
from tests.pipeline import dagster_home, running_daemon, step_intervals
from warehouse import warehouse_path

NFL_GAME = "2023_21_DET_SF"  # not the demos' games, so their predictions are new
NBA_GAME = "0022400062"


def percentiles(values) -> str:
    return " / ".join(f"{np.percentile(values, q):.2f}" for q in (50, 95)) + " s (p50 / p95)"


@dataclass(frozen=True)
class Dagster:
    """The `dagster` command in the daemon's environment, over its code servers."""

    env: dict
    workspace: Path

    def __call__(self, *args: str) -> None:
        subprocess.run(
            [Path(sys.executable).parent / "dagster", *args, "-w", str(self.workspace)],
            env=self.env, check=True, capture_output=True,
        )  # fmt: skip


@contextmanager
def _daemon(root: Path, warehouse: Path, bootstrap: str) -> Iterator[tuple[dg.DagsterInstance, Dagster]]:
    """A fresh Dagster instance under `root` and its daemon (with its code servers, as `playcast ui` runs
    them) on `warehouse` and the broker; yields the instance and the `dagster` command over the servers."""
    home = dagster_home(root)
    os.environ["DAGSTER_HOME"] = str(home)  # the instance's storage finds its files through it
    store = root / "model_store"  # new versions go here, not into the warehouse's own model store
    env = {**os.environ, "DAGSTER_HOME": str(home), "PLAYCAST_WAREHOUSE": str(warehouse),
           "PLAYCAST_KAFKA_BOOTSTRAP": bootstrap, "PLAYCAST_MODEL_STORE": str(store)}  # fmt: skip
    with running_daemon(env) as workspace:
        yield dg.DagsterInstance.from_config(str(home)), Dagster(env, workspace)


def latency(
    root: Path, warehouse: Path, sport: Sport, plays: int, interval: float, retraining: bool = False
) -> None:
    """Publish one row every `interval` seconds while the daemon's sensor launches scoring runs (with
    `retraining`, while the sport's retraining job runs too, launched after the first row)."""
    game, rows, encode_row = LATENCY_GAMES[sport.name]()
    rows = rows[:plays]
    with LocalBroker(f"127.0.0.1:{free_port()}") as broker:
        with _daemon(root, warehouse, broker.bootstrap) as (instance, dagster):
            time.sleep(15)  # let the daemon load both code locations and tick once
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
            sent = 0
            for part in (rows[:1], rows[1:]):  # the first row's run starts the launcher's forkserver: apart
                if retraining and sent:
                    _launch_retraining(sport, dagster)
                for row in part:
                    producer.send(sport.topic, key=game.encode(), value=encode_row(row))
                    producer.flush()
                    time.sleep(interval)
                sent += len(part)
                _wait_until_scored(instance, sport, sent, 120)
        source = cluster_id(broker.bootstrap)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        first_sent = dict(con.execute(
            f"select run_id, epoch(min(cast(sent_at as timestamptz))) from {sport.rows_table} "
            "where source = ? group by 1",
            [source],
        ).fetchall())  # fmt: skip
        scored = con.execute(
            f"""select w.run_id, epoch(w.scored_at - cast(w.sent_at as timestamptz))
                from {sport.predictions_table} w where w.source = ?""", [source]
        ).fetchall()  # fmt: skip
    records = _scoring_runs(instance, sport)
    first, rest = records[0], records[1:]  # the first run starts the launcher's forkserver
    first_id = first.dagster_run.run_id
    created = {r.dagster_run.run_id: r.create_timestamp.timestamp() for r in records}
    parts = {
        "event produced → prediction row written": [s for run, s in scored if run != first_id],
        "first event of a run produced → run created": [
            created[run] - at for run, at in first_sent.items() if run != first_id
        ],
        "run created → launching (run queue)": [_launched(instance, r) - created[r.dagster_run.run_id]
                                                for r in rest],
        "launching → run started (process, imports)": [r.start_time - _launched(instance, r) for r in rest],
        "run started → run finished": [r.end_time - r.start_time for r in rest],
    }  # fmt: skip
    print(f"Latency, {sport.name.upper()} {game}: {len(rows)} {sport.noun}s, one every {interval} s, "
          f"scored through the daemon ({len(records)} runs):")  # fmt: skip
    warm_up = [f"{s:.2f} s" for run, s in scored if run == first_id] or ["none (no prediction row)"]
    print(f"  first run, which starts the forkserver: event → prediction {warm_up[-1]}, "
          f"launching → run started {first.start_time - _launched(instance, first):.2f} s")  # fmt: skip
    print(f"  the other {len(rest)} runs (targets 8 / 12 s end to end; the sensor tick floor is 5 s):")
    for name, seconds in parts.items():
        print(f"    {name:<44} {percentiles(seconds)}")
    print(f"  {sport.noun}s scored: {len(scored)} of {len(rows)} (rows that are no game state get none)")
    if retraining:
        _during_retraining(instance, sport, records, scored)


def _launch_retraining(sport: Sport, dagster: Dagster) -> None:
    """Queue the sport's retraining job, as the weekly schedule does."""
    dagster("job", "launch", "-l", "playcast", "-j", f"retrain_{sport.name}_models")


def _during_retraining(
    instance: dg.DagsterInstance, sport: Sport, records: list, scored: list[tuple[str, float]]
) -> None:
    """The latency of the scoring runs created while the retraining run ran, and what that run held."""
    [training] = instance.get_run_records(dg.RunsFilter(job_name=f"retrain_{sport.name}_models"))
    start, end = training.start_time, training.end_time or time.time()
    during = {r.dagster_run.run_id for r in records if start <= r.create_timestamp.timestamp() <= end}
    seconds = [s for run, s in scored if run in during]
    print(
        f"  retraining run {training.dagster_run.status.value}, {end - start:.0f} s; {len(during)} scoring "
        f"runs created meanwhile: event → prediction {percentiles(seconds) if seconds else 'none'}"
    )
    pool_steps = [(s, e, k) for s, e, k in step_intervals(instance, training.dagster_run.run_id)
                  if k.split(":")[1].split(".")[-1].startswith(("read_", "register_"))]  # fmt: skip
    held = sum(e - s for s, e, _ in pool_steps)
    print(f"  its steps in the warehouse pool: {held:.1f} s of {end - start:.0f} s")


def _nfl_game() -> tuple[str, list[dict], Callable[[dict], bytes]]:
    return NFL_GAME, load_game(NFL_GAME), encode


def _nba_game() -> tuple[str, list[dict], Callable[[dict], bytes]]:
    return NBA_GAME, load_nba_games([NBA_GAME])[NBA_GAME], NBA_ACTION.encode


LATENCY_GAMES = {"nfl": _nfl_game, "nba": _nba_game}


def backlog(
    root: Path,
    warehouse: Path,
    sport: Sport,
    replay: Callable[[str], ReplayStats],
    label: str,
    warm_up: bytes,
) -> None:
    """A backlog scored by the runs the sport's sensor launches (at most PLAYCAST_LIVE_MAX_EVENTS events
    each), as after an outage: the daemon first scores `warm_up` (one event of a game outside the backlog;
    the launcher's forkserver starts with a daemon's first run), then its sensor is stopped while the
    backlog is published and started again. Timed from the first run's creation to the last run's end:
    the run queue, the launches, Dagster's run setup and the steps, not the wait for the sensor's tick."""
    copy = root / f"{sport.name}_backlog.duckdb"
    shutil.copy(warehouse, copy)
    with LocalBroker(f"127.0.0.1:{free_port()}") as broker:
        with _daemon(root / f"{sport.name}_backlog", copy, broker.bootstrap) as (instance, dagster):
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
            producer.send(sport.topic, value=warm_up)
            producer.flush()
            _wait_until_scored(instance, sport, 1, 120)
            _sensor(dagster, sport, "stop")
            _wait_for_ticks(instance, sport)  # a tick under way would still score part of the backlog
            stats = replay(broker.bootstrap)
            ranges = {p: (0, end) for p, end in high_watermarks(broker.bootstrap, sport.topic, {}).items()}
            started = time.perf_counter()
            read_ranges(broker.bootstrap, sport.topic, ranges)  # with the warm-up event: one more
            raw = time.perf_counter() - started
            os.sync()  # the copy's and the replay's writeback would otherwise compete with the commits
            since = time.time()
            _sensor(dagster, sport, "start")
            _wait_until_scored(instance, sport, 1 + stats.events, 600)
        source = cluster_id(broker.bootstrap)
    with duckdb.connect(str(copy), read_only=True) as con:
        events = dict(con.execute(
            "select run_id, count(*) from live.events where source = ? group by 1", [source]
        ).fetchall())  # fmt: skip
    records = [r for r in _scoring_runs(instance, sport) if r.create_timestamp.timestamp() > since]
    created = records[0].create_timestamp.timestamp()
    total = max(r.end_time for r in records) - created
    rate = sum(events[r.dagster_run.run_id] for r in records) / total
    print(f"Backlog through the daemon, {label} ({stats.events} events of {stats.games} games), "
          f"{len(records)} runs:")  # fmt: skip
    print(f"  first run created → last run finished  {total:.2f} s  {rate:9,.0f} events/s "
          f"(raw consume {raw:.2f} s, {stats.events / raw:,.0f} events/s)")  # fmt: skip
    for record in records:
        run_id, launched = record.dagster_run.run_id, _launched(instance, record)
        at = record.create_timestamp.timestamp()
        [(step_start, step_end, _)] = step_intervals(instance, run_id)
        print(f"  run {run_id[:8]}: {events[run_id]:6,} events; created +{at - created:.2f} s, "
              f"queue {launched - at:.2f} s, launch {record.start_time - launched:.2f} s, run "
              f"{record.end_time - record.start_time:.2f} s (to the step's start, incl. the pool wait, "
              f"{step_start - record.start_time:.2f} s; the step {step_end - step_start:.2f} s: "
              f"{_stages(instance, run_id, sport)})")  # fmt: skip


def _stages(instance: dg.DagsterInstance, run_id: str, sport: Sport) -> str:
    """The scoring run's own split of its batch (the predictions' `seconds` metadata)."""
    kind = dg.DagsterEventType.ASSET_MATERIALIZATION
    predictions = dg.AssetKey(["live", sport.predictions_table.split(".")[1]])
    for record in instance.get_records_for_run(run_id, of_type=kind).records:
        materialization = record.event_log_entry.asset_materialization
        if materialization.asset_key == predictions:
            seconds = materialization.metadata["seconds"].value
            return ", ".join(f"{stage} {value:.2f}" for stage, value in seconds.items())
    return "no predictions"


def _sensor(dagster: Dagster, sport: Sport, action: str) -> None:
    """`dagster sensor start|stop` for the sport's sensor (its cursor stays)."""
    dagster("sensor", action, sport.sensor_name, "-l", "playcast_live")


def _wait_for_ticks(instance: dg.DagsterInstance, sport: Sport, timeout: float = 60) -> None:
    """Until no tick of the sport's sensor is under way."""
    [state] = [s for s in instance.all_instigator_state() if s.instigator_name == sport.sensor_name]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if not ticks or ticks[0].status != TickStatus.STARTED:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{sport.sensor_name}: a tick still under way after {timeout} s")


def _wait_until_scored(instance: dg.DagsterInstance, sport: Sport, events: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _events_scored(instance, sport) < events:
        time.sleep(1)  # asks Dagster, not the warehouse file: a reader blocks the runs' writes


def _scoring_runs(instance: dg.DagsterInstance, sport: Sport) -> list[dg.RunRecord]:
    records = instance.get_run_records(dg.RunsFilter(job_name=sport.job_name))
    return sorted(records, key=lambda r: r.create_timestamp)


def _launched(instance: dg.DagsterInstance, record: dg.RunRecord) -> float:
    """When the run coordinator handed the run to the run launcher."""
    kind = dg.DagsterEventType.RUN_STARTING
    (event,) = instance.get_records_for_run(record.dagster_run.run_id, of_type=kind).records
    return event.event_log_entry.timestamp


def _events_scored(instance: dg.DagsterInstance, sport: Sport) -> int:
    """Events of the sport's topic that scoring runs have materialized so far."""
    events = dg.AssetKey(["live", f"{sport.name}_events"])
    records = instance.fetch_materializations(events, limit=10_000).records
    return sum(r.asset_materialization.metadata["events"].value for r in records)


def _score(warehouse: Path, chunks: Iterable[list], source: str, sport: Sport) -> int:
    """What a scoring run does once its records arrive: open the warehouse, load the champion, score."""
    with duckdb.connect(str(warehouse)) as con:
        predictor = sport.predictor(con)
        return process_batch(con, chunks, "benchmark", predictor, sport.feature_sql(), source, sport).events


RAW, SEQUENTIAL, END_TO_END = (
    "kafka-python reading the offsets (raw consume)",
    "read, then score (open, models, store, features, scoring, commit)",
    "end to end as a run does it (read while scoring)",
)


def _measure(
    part: str, bootstrap: str, ranges: dict, warehouse: str, source: str, sport_name: str
) -> tuple[float, float]:
    """Seconds and the process's peak RSS (MB) for one part of the throughput measurement, in the calling
    (fresh) process."""
    sport = SPORTS[sport_name]
    gc.freeze()  # as the run launcher's workers do (orchestration/run_launcher.py)
    use_system_allocator()  # as scoring runs do
    started = time.perf_counter()
    if part == RAW:
        read_ranges(bootstrap, sport.topic, ranges)
    elif part == SEQUENTIAL:
        _score(Path(warehouse), [read_ranges(bootstrap, sport.topic, ranges)], source, sport)
    else:
        with ReadAhead(iter_ranges(bootstrap, sport.topic, ranges)) as chunks:
            _score(Path(warehouse), chunks, source, sport)
    return time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _forkserver() -> multiprocessing.context.ForkServerContext:
    """Processes forked from a server that preloaded what the run launcher preloads (its settings in
    orchestration/dagster.yaml): each measurement starts as a scoring run does, with a fresh heap."""
    settings = yaml.safe_load(Path(orchestration.__file__).with_name("dagster.yaml").read_text())
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(settings["run_launcher"]["config"]["preload_modules"])
    return context


def throughput(
    warehouse: Path, sport: Sport, replay: Callable[[str], ReplayStats], label: str, repeat: int = 1
) -> None:
    """A backlog scored in one micro-batch (read, then scored; and read while scoring, as runs do), each on
    its own copy of `warehouse`, next to kafka-python reading the same offsets; `repeat` times, one broker.
    Every measurement runs in its own process (`_forkserver`), as scoring runs do."""
    timings: dict[str, list[float]] = {RAW: [], SEQUENTIAL: [], END_TO_END: []}
    peaks: dict[str, list[float]] = {part: [] for part in timings}  # MB, the forkserver's imports included
    context = _forkserver()
    with LocalBroker(f"127.0.0.1:{free_port()}") as broker:
        stats = replay(broker.bootstrap)
        source = cluster_id(broker.bootstrap)
        ranges = {p: (0, end) for p, end in high_watermarks(broker.bootstrap, sport.topic, {}).items() if end}
        copy = warehouse.with_name(f"{sport.name}_scored.duckdb")
        for _ in range(repeat):
            for part in timings:
                shutil.copy(warehouse, copy)
                os.sync()  # the copy's writeback would otherwise compete with the commit's fsync
                with context.Pool(1) as process:
                    args = (part, broker.bootstrap, ranges, str(copy), source, sport.name)
                    seconds, peak = process.apply(_measure, args)
                    timings[part].append(seconds)
                    peaks[part].append(peak)
    events = sum(end - start for start, end in ranges.values())
    runs = f"median (min-max) of {repeat} runs" if repeat > 1 else "one run"
    print(f"Throughput, {label} backlog ({stats.events} events of {stats.games} games) in one batch, {runs}:")
    for name, seconds in timings.items():
        median, low, high = np.median(seconds), min(seconds), max(seconds)
        spread = f" ({low:.2f}-{high:.2f})" if repeat > 1 else ""
        rates = f" ({events / high:,.0f}-{events / low:,.0f})" if repeat > 1 else ""
        print(f"  {name:<68} {median:6.2f} s{spread}  {events / median:9,.0f} events/s{rates}, "
              f"peak RSS {max(peaks[name]):,.0f} MB")  # fmt: skip
    ratio = np.median(np.array(timings[RAW]) / np.array(timings[END_TO_END]))
    print(f"  end to end runs at {ratio:.2f}x the raw consume rate (median over the runs)")


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
    parser.add_argument("--part", choices=["all", "throughput", "backlog", "latency"], default="all")
    parser.add_argument("--sport", choices=["nfl", "nba", "both"], default="both", help="of the latency part")
    parser.add_argument("--repeat", type=int, default=1, help="throughput runs per sport (one broker each)")
    parser.add_argument(
        "--during-retraining", action="store_true", help="latency while the sport's retraining job runs"
    )
    args = parser.parse_args()
    quiet = {"speed": "max", "progress": lambda _: None}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        copy = root / "playcast.duckdb"
        shutil.copy(warehouse_path(), copy)
        nfl_games = season_game_ids(args.season)
        warm_up = encode(load_game(season_game_ids(args.season - 1)[0])[0])  # a game outside the backlog
        backlogs = [(NFL, lambda b: replay_nfl(b, nfl_games, **quiet), f"NFL season {args.season}", warm_up)]
        if _has_nba(copy):
            games = nba_season_game_ids(args.nba_season)[: args.nba_games + 1]
            label = f"NBA {args.nba_season} ({args.nba_games} games)"
            warm_up = NBA_ACTION.encode(load_nba_games(games[-1:])[games[-1]][0])
            backlogs.append((NBA, lambda b: replay_nba(b, games[:-1], **quiet), label, warm_up))
        for sport, replay, label, warm_up in backlogs:
            if args.part in ("all", "throughput"):
                throughput(copy, sport, replay, label, args.repeat)
            if args.part in ("all", "backlog"):
                backlog(root, copy, sport, replay, label, warm_up)
        if args.part in ("all", "latency"):
            for sport in (NFL, NBA) if args.sport == "both" else (SPORTS[args.sport],):
                latency(root / sport.name, copy, sport, args.plays, args.interval, args.during_retraining)


if __name__ == "__main__":
    main()
