"""`playcast broker` and `playcast replay nfl ...` (mounted by orchestration/cli.py)."""

from __future__ import annotations

import argparse
import logging
import sys

from stream import NFL_TOPIC, bootstrap_from_env


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
    replay.add_argument("sport", choices=["nfl"])
    replay.add_argument(
        "--game", action="append", default=[], metavar="GAME_ID", help="e.g. 2023_22_SF_KC; repeat for more"
    )
    replay.add_argument("--season", type=int, help="every game of this season (load tests)")
    replay.add_argument("--speed", default="max", help="N (N x real time) or max (as fast as possible)")
    replay.add_argument("--topic", default=NFL_TOPIC)
    replay.add_argument(
        "--bootstrap", default=None, help="default: PLAYCAST_KAFKA_BOOTSTRAP or 127.0.0.1:9092"
    )
    replay.set_defaults(stream_handler=replay_command)


def broker_command(args: argparse.Namespace) -> int:
    from stream.broker import run_forever

    return run_forever(args.bootstrap or bootstrap_from_env())


def replay_command(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

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
    try:
        stats = replay_nfl(
            bootstrap,
            args.game,
            season=args.season,
            speed=speed,
            topic=args.topic,
            progress=print,
        )
    except ReplayError as error:
        print(f"playcast replay: {error}", file=sys.stderr)
        return 1
    except KafkaError as error:
        print(f"playcast replay: Kafka at {bootstrap}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("playcast replay: interrupted", file=sys.stderr)
        return 130
    print(f"published {stats}")
    return 0
