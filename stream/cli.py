"""`playcast broker` and `playcast replay nfl|nba ...` (mounted by orchestration/cli.py)."""

from __future__ import annotations

import argparse
import logging
import sys

from stream import NBA_TOPIC, NFL_TOPIC, bootstrap_from_env, error_text

TOPIC = {"nfl": NFL_TOPIC, "nba": NBA_TOPIC}


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `broker` and `replay` to a subparsers object; handlers are set as `stream_handler`."""
    broker = commands.add_parser(
        "broker", help="run a local Kafka-compatible broker (Tansu, in memory) until Ctrl-C or SIGTERM"
    )
    broker.add_argument(
        "--bootstrap",
        default=None,
        help="host:port to listen on (default: PLAYCAST_KAFKA_BOOTSTRAP or 127.0.0.1:9092)",
    )
    broker.set_defaults(stream_handler=broker_command)

    replay = commands.add_parser("replay", help="publish real games' plays to Kafka, in order, paced")
    replay.add_argument("sport", choices=sorted(TOPIC))
    replay.add_argument(
        "--game",
        action="append",
        default=[],
        metavar="GAME_ID",
        help="e.g. 2023_22_SF_KC (NFL) or 0022300001 (NBA); repeat for more",
    )
    replay.add_argument("--season", help="every game of this season, e.g. 2023 (NFL) or 2023-24 (NBA)")
    replay.add_argument(
        "--speed",
        default="max",
        help="N (N x real time; NBA: N x game-clock time) or max (as fast as possible)",
    )
    replay.add_argument("--topic", help=f"default: {NFL_TOPIC} or {NBA_TOPIC}")
    replay.add_argument(
        "--bootstrap", default=None, help="default: PLAYCAST_KAFKA_BOOTSTRAP or 127.0.0.1:9092"
    )
    replay.set_defaults(stream_handler=replay_command)


def broker_command(args: argparse.Namespace) -> int:
    from stream.broker import run_forever

    return run_forever(args.bootstrap or bootstrap_from_env())


def replay_command(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from stream.nba_replay import replay_nba
    from stream.replay import ReplayError, parse_speed, replay_nfl

    if not args.game and args.season is None:
        print("playcast replay: give --game GAME_ID (repeatable) and/or --season SEASON", file=sys.stderr)
        return 2
    try:
        speed = parse_speed(args.speed)
    except ValueError as error:
        print(f"playcast replay: {error}", file=sys.stderr)
        return 2
    bootstrap = args.bootstrap or bootstrap_from_env()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    replay, season = replay_nba, args.season
    if args.sport == "nfl":
        if args.season is not None and not args.season.isdigit():
            print(f"playcast replay: NFL season {args.season!r}: expected a year like 2023", file=sys.stderr)
            return 2
        replay, season = replay_nfl, None if args.season is None else int(args.season)
    try:
        stats = replay(
            bootstrap,
            args.game,
            season=season,
            speed=speed,
            topic=args.topic or TOPIC[args.sport],
            progress=print,
        )
    except ReplayError as error:
        print(f"playcast replay: {error}", file=sys.stderr)
        return 1
    except KafkaError as error:
        print(f"playcast replay: Kafka at {bootstrap}: {error_text(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("playcast replay: interrupted", file=sys.stderr)
        return 130
    print(f"published {stats}")
    return 0
