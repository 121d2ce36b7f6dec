"""The `playcast` command: SQL on the warehouse, running the pipeline through Dagster, the demo and the UI."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

import stream.cli
from orchestration.code_servers import REPO_ROOT, code_servers
from orchestration.processes import start_process, stop_processes
from warehouse import WarehouseBusyError, connect, warehouse_path

# runs started from the shell keep their full logs in the UI; a failure is summed up by `run_job`
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class RunFailed(RuntimeError):
    """A run started by `playcast` failed; the message names its failed steps and their errors."""


def dagster_home() -> Path:
    """`DAGSTER_HOME`, default `.dagster_home/` in the repo, created with playcast's instance settings; warns
    when an existing instance's settings differ from them (e.g. created before the forking run launcher)."""
    home = Path(os.environ.get("DAGSTER_HOME") or REPO_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings, instance = Path(__file__).with_name("dagster.yaml"), home / "dagster.yaml"
    if not instance.exists():
        shutil.copy(settings, instance)
    elif instance.read_text() != settings.read_text():
        print(
            f"playcast: {instance} differs from playcast's instance settings {settings} (run launcher, "
            "run queue, monitoring): copy them over unless you changed it on purpose",
            file=sys.stderr,
        )
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run_sql(
    query: str,
    wait_seconds: float = 60.0,
    params: list | None = None,
    prog: str = "playcast sql",
    if_empty: str | None = None,
) -> int:
    """Run a read-only query and print the result as a table; `if_empty`: the error when it has no rows."""
    if not query.strip():
        print(f"{prog}: the query is empty", file=sys.stderr)
        return 2
    try:
        with connect(read_only=True, wait_seconds=wait_seconds) as con:
            cursor = con.execute(query, params or [])
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
    except (WarehouseBusyError, FileNotFoundError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # duckdb raises many kinds; show its message, not a traceback
        print(f"{prog}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if not rows and if_empty:
        print(f"{prog}: {if_empty}", file=sys.stderr)
        return 1
    print(tabulate(rows, headers=columns, tablefmt="simple", floatfmt=".4g"))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


def parse_seasons(text: str, sport: str = "nfl") -> list[int] | list[str]:
    """NFL: '2019-2023' or '2020,2022' → years; NBA: '2023-24,2024-25' → season keys (each checked). A
    ValueError names a part that is not a season or a range that holds none."""
    if sport == "nba":
        from ingest.nba import season_start

        keys = [part.strip() for part in text.split(",")]
        for key in keys:
            season_start(key)  # a ValueError naming the bad key
        return keys
    seasons: list[int] = []
    for part in text.split(","):
        bounds = part.strip().split("-")
        if len(bounds) > 2 or not all(bound.isdigit() for bound in bounds):
            raise ValueError(f"season {part!r}: expected a year like 2023 or a range like 2019-2023")
        first, last = int(bounds[0]), int(bounds[-1])
        if last < first:
            raise ValueError(f"seasons {part!r}: the range is empty (first year after the last)")
        seasons += list(range(first, last + 1))
    return seasons


def run_job(name: str, **execute: Any) -> str:
    """Execute a job of the batch definitions in-process as a run of the Dagster instance; its run id. A
    failed run raises RunFailed with each failed step's own error (Dagster's wrapper and traceback are in the
    run's logs in the UI)."""
    import dagster as dg

    from orchestration.definitions import defs

    result = defs.resolve_job_def(name).execute_in_process(
        instance=dg.DagsterInstance.get(), run_config=QUIET, raise_on_error=False, **execute
    )
    if result.success:
        return result.run_id
    errors = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            if error.cls_name == "DagsterExecutionStepExecutionError" and error.cause:
                error = error.cause  # the op's own exception
            message = error.message.strip().removeprefix("dagster._core.definitions.events.Failure: ")
            errors.append(f"{event.step_key}: {message}")
    raise RunFailed(
        f"run {result.run_id[:8]} of {name} failed (its logs: `make ui`, Runs)"
        + "".join(f"\n  {line}" for line in errors)
    )


def materialize(sport: str, seasons: Sequence[int | str]) -> None:
    """Materialize a sport's raw season partitions (job `<sport>_ingest`), then the dbt models, as runs in the
    Dagster instance."""
    if not seasons:
        raise ValueError(f"no {sport.upper()} season to materialize")
    for season in seasons:
        started = time.monotonic()
        run_id = run_job(f"{sport}_ingest", partition_key=str(season))
        print(f"  season {season}: ingested in {time.monotonic() - started:.1f} s (run {run_id[:8]})")
    started = time.monotonic()
    run_id = run_job(f"build_{sport}_features")
    print(f"  dbt build: {time.monotonic() - started:.1f} s (run {run_id[:8]})")


def train(sport: str) -> None:
    """Run the retraining job of a sport (its `<sport>_models` group) as a run in the Dagster instance."""
    started = time.monotonic()
    run_id = run_job(f"retrain_{sport}_models")
    print(f"  models trained and registered in {time.monotonic() - started:.1f} s (run {run_id[:8]})")


def _nfl_scores(input_path: Path, con, evaluate: bool):
    """An nflverse file scored by the NFL champions; evaluated next to nflfastR's own columns."""
    from models.evaluate import compare_with_nflfastr
    from models.predict import NflPredictor, read_plays

    pbp = read_plays(input_path)
    predictor = NflPredictor.from_registry(con)
    predictions = predictor.predict_nflverse(pbp, source=str(input_path))
    table = compare_with_nflfastr(pbp, predictions, str(input_path)) if evaluate else None
    return predictions, table, {int(s) for s in pbp["season"].unique()}, predictor


def _nba_scores(input_path: Path, con, evaluate: bool):
    """A PlayByPlayV3 file scored by the NBA champion through the mart's feature SQL; evaluated on the actions
    of games in raw.nba_games, next to a naive baseline."""
    from models.evaluate import compare_with_naive
    from models.predict import NbaPredictor, nba_features, read_nba_actions, warehouse_nba_games

    actions = read_nba_actions(input_path)
    predictor = NbaPredictor.from_registry(con)
    frame = nba_features(actions, warehouse_nba_games(con))
    predictions = predictor.predict_frame(frame)
    table = compare_with_naive(frame, predictions) if evaluate else None
    return predictions, table, {int(s) for s in frame["season"].unique()}, predictor


SCORERS = {"nfl": _nfl_scores, "nba": _nba_scores}


def score_file(sport: str, input_path: Path, output_path: Path | None) -> int:
    """`playcast predict` (output given) or `playcast evaluate` (no output) on a play-by-play file."""
    from models.features import MissingColumnsError
    from models.predict import NoChampionError

    if output_path is not None and output_path.suffix != ".parquet":
        print(
            f"playcast predict: {output_path}: the output is written as parquet, name it .parquet",
            file=sys.stderr,
        )
        return 2
    try:
        with connect(read_only=True) as con:
            predictions, table, seasons, predictor = SCORERS[sport](input_path, con, output_path is None)
        if output_path is not None:
            output_path.parent.mkdir(parents=True, exist_ok=True)
            predictions.to_parquet(output_path, index=False)
            print(f"{len(predictions)} rows scored with {predictor.model_version} → {output_path}")
            return 0
    except (FileNotFoundError, ValueError, MissingColumnsError, NoChampionError, WarehouseBusyError) as error:
        print(f"playcast {'evaluate' if output_path is None else 'predict'}: {error}", file=sys.stderr)
        return 2
    print(f"{input_path}: {int(table['plays'].iloc[0])} rows, playcast {predictor.model_version}")
    overlap = sorted(seasons & set(predictor.training_seasons))
    if overlap:
        print(f"note: the champion trained on season(s) {overlap} of this file: in-sample for playcast")
    print(tabulate(table.round(4), headers="keys", tablefmt="simple"))
    return 0


LIVE_TIMELINE = """
    select f.quarter as q,
           printf('%d:%02d', f.quarter_seconds_remaining // 60, f.quarter_seconds_remaining % 60) as clock,
           f.home_team || ' ' || f.home_score || '-' || f.away_score || ' ' || f.away_team as score_before,
           left(replace(f.description, chr(10), ' '), 64) as description,
           round(w.home_wp, 3) as home_wp, round(w.home_wp_spread, 3) as home_wp_spread,
           round(w.pred_home_score, 1) as pred_home, round(w.pred_away_score, 1) as pred_away
    from live.nfl_win_probability w join live.nfl_wp_features f using (game_id, play_id)
    where w.game_id = $1 order by w.play_sequence
"""
NBA_CLOCK = r"regexp_replace({}, '^PT0?(\d+)M(\d+).*$', '\1:\2')"  # PT08M34.00S → 8:34
# the score after each action, and the momentum alerts it raised
NBA_LIVE_TIMELINE = f"""
    select f.period as p, {NBA_CLOCK.format("f.clock")} as clock,
           f.home_team || ' ' || f.home_score_after || '-' || f.away_score_after || ' ' || f.away_team
               as score_after,
           left(f.description, 56) as description, round(w.home_wp, 3) as home_wp,
           (select '<< ' || string_agg(a.detail, '; ' order by a.kind) from live.alerts a
            where a.game_id = w.game_id and a.action_id = w.action_id) as alert
    from live.nba_win_probability w join live.nba_wp_features f using (game_id, action_id)
    where w.game_id = $1 order by w.action_id
"""
LIVE_TIMELINES = {"nfl": (LIVE_TIMELINE, "live.nfl_win_probability"),
                  "nba": (NBA_LIVE_TIMELINE, "live.nba_win_probability")}  # fmt: skip


def live_timeline(game_id: str, last: int | None, sport: str = "nfl") -> int:
    """The play-by-play (NBA: action-by-action, with momentum alerts) win-probability timeline of a live
    game, from the warehouse."""
    timeline, predictions = LIVE_TIMELINES[sport]
    if last is not None and last < 1:
        print(f"playcast live: --last {last}: expected a number of plays, at least 1", file=sys.stderr)
        return 2
    query = (
        timeline
        if last is None
        else f"select * from ({timeline}) offset greatest(0, "
        + (f"(select count(*) from {predictions} where game_id = $1) - {int(last)})")
    )
    missing = (
        f"no live predictions for {sport.upper()} game {game_id!r} in {predictions} (replay it with "
        f"`playcast replay {sport} --game {game_id}` while `make ui` runs the sensors)"
    )
    return run_sql(query, params=[game_id], prog="playcast live", if_empty=missing)


DEMO_GAME = "2023_22_SF_KC"  # Super Bowl LVIII, decided in overtime


def demo_live(game_id: str = DEMO_GAME, sport: str = "nfl") -> None:
    """Replay a game through Kafka and score it with micro-batch runs, as the sensor would launch them."""

    import dagster as dg
    from kafka.errors import KafkaError

    from live.sports import SPORTS
    from orchestration.live_definitions import defs as live_defs
    from stream import bootstrap_from_env
    from stream.broker import BrokerError, LocalBroker, ensure_topics
    from stream.nba_replay import replay_nba
    from stream.replay import replay_nfl

    bootstrap = bootstrap_from_env()
    with contextlib.ExitStack() as stack:
        try:
            ensure_topics(bootstrap, timeout_s=2)
            print(f"  using the Kafka broker at {bootstrap}")
        except (KafkaError, BrokerError, OSError):  # nothing answers there: start the local one
            try:
                stack.enter_context(LocalBroker(bootstrap))
            except BrokerError as error:
                raise SystemExit(
                    f"playcast demo: no Kafka at {bootstrap} and cannot start one: {error}"
                ) from error
            print(f"  started a local broker (Tansu) at {bootstrap}")
        replay = {"nfl": replay_nfl, "nba": replay_nba}[sport]
        stats = replay(bootstrap, [game_id], speed="max", progress=lambda _: None)
        print(f"  replayed {game_id}: {stats}")
        instance = dg.DagsterInstance.get()
        sensor = live_defs.resolve_sensor_def(SPORTS[sport].sensor_name)
        context = dg.build_sensor_context(
            instance=instance, resources={"kafka": live_defs.resources["kafka"]}
        )
        job = live_defs.resolve_job_def(SPORTS[sport].job_name)
        for request in sensor.evaluate_tick(context).run_requests:
            started = time.monotonic()
            result = job.execute_in_process(
                run_config={**request.run_config, **QUIET},
                instance=instance,
                tags=request.tags,
                raise_on_error=True,
            )
            seconds = time.monotonic() - started
            print(f"  micro-batch {request.run_key}: {seconds:.1f} s (run {result.run_id[:8]})")


NBA_DEMO_GAME = "0022401102"  # MIN @ DEN, 2025-04-01: 140-139 after two overtimes


def demo_nfl(mirror: Path) -> None:
    """Every NFL season of the mirror: ingest, marts, models, Super Bowl LVIII replayed live."""
    from ingest.nflverse import mirror_seasons

    seasons = mirror_seasons(mirror)
    if not seasons:
        raise ValueError(f"no NFL play-by-play in {mirror / 'nfl'} (play_by_play_<season>.parquet, README)")
    print(f"\n== NFL seasons {seasons}")
    materialize("nfl", seasons)
    train("nfl")
    demo_live(DEMO_GAME, "nfl")
    print("\nRows per season:")
    run_sql(
        "select f.season, count(distinct f.game_id) as games, count(*) as plays, "
        "round(avg(f.home_win), 3) as home_win_rate from marts.nfl_wp_features f group by 1 order by 1"
    )
    print(f"\nLive: {DEMO_GAME} (Super Bowl LVIII) replayed through Kafka, scored by micro-batch runs:")
    live_timeline(DEMO_GAME, last=8, sport="nfl")


def demo_nba(mirror: Path) -> None:
    """Every NBA season of the mirror: ingest, marts, models, a double-overtime game replayed live."""
    from ingest.nba import mirror_seasons

    seasons = mirror_seasons(mirror)
    if not seasons:
        raise ValueError(f"no NBA play-by-play in {mirror / 'nba'} (playbyplayv3_<season>.parquet, README)")
    print(f"\n== NBA seasons {seasons}")
    materialize("nba", seasons)
    train("nba")
    demo_live(NBA_DEMO_GAME, "nba")
    print("\nRows per season:")
    run_sql(
        "select season, count(distinct game_id) as games, count(*) as actions, "
        "round(avg(home_win), 3) as home_win_rate from marts.nba_wp_features group by 1 order by 1"
    )
    print(f"\nLive: {NBA_DEMO_GAME} replayed through Kafka; momentum alerts:")
    run_sql(
        f"select period, {NBA_CLOCK.format('clock')} as clock, kind, detail from live.alerts "
        "where game_id = $1 order by action_id",
        params=[NBA_DEMO_GAME],
    )
    print("\nIts last actions:")
    live_timeline(NBA_DEMO_GAME, last=10, sport="nba")


def demo() -> int:
    """Load every NFL and NBA season the mirror holds, build the marts, train the models, replay a game of
    each sport through Kafka, and show what was built."""
    from ingest.mirror import mirror_root

    home = dagster_home()
    mirror = mirror_root()
    if mirror is None or not mirror.is_dir():
        print(
            "playcast demo: set PLAYCAST_DATA_MIRROR to a data folder (the Makefile uses ../shared/data)"
            + (f": {mirror} is not a folder" if mirror else ""),
            file=sys.stderr,
        )
        return 2
    print(f"playcast demo: data from {mirror}\n  warehouse {warehouse_path()}\n  dagster {home}")
    try:
        demo_nfl(mirror)
        demo_nba(mirror)
    except (RunFailed, ValueError) as error:
        print(f"playcast demo: {error}", file=sys.stderr)
        return 1
    print("\nModel registry (metrics are leave-one-season-out):")
    run_sql(
        "select model_name, version, is_champion, training_seasons, "
        "round(coalesce(metrics->>'$.variants.home_wp_spread.overall.log_loss', "
        "metrics->>'$.variants.home_wp.overall.log_loss', "
        "metrics->>'$.overall.mae_per_team')::double, 4) as held_out_metric, "
        "metrics->>'$.selection.metric' as metric, (case when (decision->>'$.promoted')::boolean "
        "then 'promoted: ' else 'not promoted: ' end) || (decision->>'$.reason') as decision "
        "from ml.model_registry order by model_name, version"
    )
    print(
        "\nNext: `make ui` serves the Dagster UI at http://127.0.0.1:3000 (assets, lineage, runs);\n"
        '      `.venv/bin/playcast sql "select season, count(*) from marts.nba_wp_features group by 1"`\n'
        f"      `.venv/bin/playcast live nfl --game {DEMO_GAME}`, "
        f"`.venv/bin/playcast live nba --game {NBA_DEMO_GAME}` (whole timelines)"
    )
    return 0


def ui(host: str, port: int) -> int:
    """dagster-webserver and dagster-daemon over the same instance, warehouse and code servers
    (orchestration/code_servers.py); Ctrl-C stops all."""
    try:  # before the ~10 s of code servers: the webserver would only fail after them
        with socket.create_server((host, port)):
            pass
    except OSError:
        print(f"playcast ui: cannot serve on {host}:{port}: it is in use, or not an address of this machine",
              file=sys.stderr)  # fmt: skip
        return 2
    dagster_home()
    bin_dir = Path(sys.executable).parent
    print("Starting a code server per code location (the batch one loads dbt's manifest: ~10 s)")
    with code_servers(dict(os.environ)) as workspace:
        processes = [
            start_process(command, cwd=REPO_ROOT)  # each stopped with its children
            for command in (
                [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
                [str(bin_dir / "dagster-webserver"), "-w", str(workspace), "-h", host, "-p", str(port)],
            )
        ]
        print(f"Dagster UI on http://{host}:{port} (Ctrl-C stops the webserver, the daemon and the servers)")
        stop = {"requested": False}

        def request_stop(*_: object) -> None:
            stop["requested"] = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        while not stop["requested"] and all(p.poll() is None for p in processes):
            time.sleep(0.5)
        stop_processes(processes)
    return 0 if stop["requested"] else 1


def _report_failure(command: str, work: Callable[[], None]) -> int:
    """Run `work` with the Dagster instance set up; a failed run is one message, not a traceback."""
    from ingest.mirror import mirror_root

    dagster_home()
    try:
        work()
    except RunFailed as error:
        print(f"playcast {command}: {error}", file=sys.stderr)
        if command == "materialize" and mirror_root() is None:
            print("  (PLAYCAST_DATA_MIRROR is unset, so the loaders used the network; set it to a data "
                  "mirror folder such as ../shared/data to load from files)", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="playcast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    stream.cli.add_commands(commands)  # `playcast broker`, `playcast replay`
    sql = commands.add_parser("sql", help="run a read-only SQL query on the warehouse")
    sql.add_argument("query")
    sql.add_argument("--wait", type=float, default=60.0, help="seconds to wait while a writer holds the file")
    load = commands.add_parser("materialize", help="load seasons and build the marts through Dagster")
    load.add_argument("sport", choices=["nfl", "nba"])
    load.add_argument("--seasons", required=True, help="NFL e.g. 2019-2023 or 2021,2023; NBA 2023-24,2024-25")
    training = commands.add_parser("train", help="train, evaluate and register the models through Dagster")
    training.add_argument("sport", choices=["nfl", "nba"])
    predict = commands.add_parser("predict", help="score a play-by-play file with the champions")
    predict.add_argument("sport", choices=["nfl", "nba"])
    predict.add_argument(
        "--input", required=True, type=Path, help="nflverse pbp (NFL) or PlayByPlayV3 (NBA), .parquet or .csv"
    )
    predict.add_argument("--output", required=True, type=Path, help="where to write the .parquet result")
    evaluate = commands.add_parser(
        "evaluate",
        help="playcast's metrics next to nflfastR's (NFL) or a naive model's (NBA) on the same rows",
    )
    evaluate.add_argument("sport", choices=["nfl", "nba"])
    evaluate.add_argument(
        "--input",
        required=True,
        type=Path,
        help="nflverse pbp with home_wp, vegas_home_wp (NFL); PlayByPlayV3 of games in raw.nba_games (NBA)",
    )
    live = commands.add_parser("live", help="a live game's win-probability timeline from the warehouse")
    live.add_argument("sport", choices=["nfl", "nba"])
    live.add_argument("--game", required=True, help="e.g. 2023_22_SF_KC (NFL) or 0022300001 (NBA)")
    live.add_argument("--last", type=int, help="only the last N plays (actions)")
    commands.add_parser("demo", help="run the whole flow on the data mirror and show the result")
    serve = commands.add_parser("ui", help="serve the Dagster UI with the daemon")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    if getattr(args, "stream_handler", None):
        return args.stream_handler(args)

    if args.command == "sql":
        return run_sql(args.query, args.wait)
    if args.command == "materialize":
        try:
            seasons = parse_seasons(args.seasons, args.sport)
        except ValueError as error:
            print(f"playcast materialize: {error}", file=sys.stderr)
            return 2
        return _report_failure("materialize", lambda: materialize(args.sport, seasons))
    if args.command == "train":
        return _report_failure("train", lambda: train(args.sport))
    if args.command in ("predict", "evaluate"):
        return score_file(args.sport, args.input, args.output if args.command == "predict" else None)
    if args.command == "live":
        return live_timeline(args.game, args.last, args.sport)
    if args.command == "demo":
        return demo()
    return ui(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
