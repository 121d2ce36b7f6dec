"""stream/: the local broker, the play event schema, replay and offset ranges, against a real broker."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from stream import NBA_TOPIC, NFL_TOPIC, TOPICS, cli, events, offsets, replay
from stream.broker import BrokerError, LocalBroker, ensure_topics, split_bootstrap
from tests.conftest import REPO_ROOT

SUPER_BOWL = "2023_22_SF_KC"  # Super Bowl LVIII, KC 25-22 SF in overtime
CONFERENCE_GAMES = ["2023_21_DET_SF", "2023_21_KC_BAL"]
SUNDAY_1PM = ["2023_01_ARI_WAS", "2023_01_CAR_ATL"]  # kicked off together


def fresh_topic(bootstrap: str, partitions: int = 4) -> str:
    """A topic of its own for a test, so counts are exact whatever else the session broker holds."""
    name = f"test.{uuid.uuid4().hex[:10]}"
    assert ensure_topics(bootstrap, {name: partitions}) == [name]
    return name


def read_all(bootstrap: str, topic: str) -> list[offsets.Record]:
    return offsets.read_ranges(bootstrap, topic, offsets.next_ranges(bootstrap, topic, {}, 10**9))


@pytest.fixture(scope="module")
def super_bowl(data_mirror) -> list[dict]:
    return replay.load_game(SUPER_BOWL, data_mirror)


# --- broker -------------------------------------------------------------------------------------------------


def test_broker_has_the_topics_with_their_partitions(kafka_broker):
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker)
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([NFL_TOPIC, NBA_TOPIC])}
    finally:
        admin.close()
    assert described == {NFL_TOPIC: TOPICS[NFL_TOPIC], NBA_TOPIC: TOPICS[NBA_TOPIC]}
    assert described[NFL_TOPIC] > 1
    assert ensure_topics(kafka_broker) == []  # idempotent: nothing left to create


def test_second_broker_on_a_busy_address_fails_clearly(kafka_broker):
    with pytest.raises(BrokerError, match="already in use"):
        LocalBroker(kafka_broker).start()
    with pytest.raises(ValueError, match="host:port"):
        split_bootstrap("localhost")


def test_playcast_broker_runs_in_the_foreground_and_stops_on_sigterm(tmp_path):
    from tests.kafka_fixtures import free_port

    bootstrap = f"127.0.0.1:{free_port()}"
    code = f"import sys; from stream.broker import run_forever; sys.exit(run_forever({bootstrap!r}))"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = process.stdout.readline()
        assert f"listening on {bootstrap}" in ready, ready
        log = Path(process.stdout.readline().strip().removeprefix("broker log: "))
        assert log.is_file()
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        assert NFL_TOPIC in consumer.topics()  # a client is still connected while it stops
        process.terminate()
        assert process.wait(15) == 0
        consumer.close()
    finally:
        if process.poll() is None:
            process.kill()
    host, port = split_bootstrap(bootstrap)
    with pytest.raises(OSError):  # nothing listens there any more
        socket.create_connection((host, port), timeout=1).close()
    assert not log.exists()  # a broker stopped as asked leaves no output file behind


# --- event schema -------------------------------------------------------------------------------------------


def test_encode_decode_round_trips_every_play_of_the_super_bowl(super_bowl):
    assert len(super_bowl) > 200
    for row in super_bowl:
        event = events.decode(events.encode(row, sent_at="2024-02-11T23:40:00Z"))
        assert event["play"] == {column: row[column] for column in events.PLAY_COLUMNS}
        assert list(event["play"]) == list(events.PLAY_COLUMNS)
        assert event["schema"] == "playcast.nfl.play/1"
        assert event["event_id"] == f"{SUPER_BOWL}:{row['play_id']}"
        assert event["event_time"] == (row["play_end_time"] or row["play_start_time"])
        assert event["sent_at"] == "2024-02-11T23:40:00Z"
        assert event["scoreboard"] is None


def test_replayed_scoreboard_ends_with_the_final_score(super_bowl):
    board = replay.timeline(super_bowl)[-1][2]
    assert (board["home_score"], board["away_score"]) == (25, 22)


def valid_event(super_bowl) -> dict:
    row = next(r for r in super_bowl if r["play_type"] == "PASS")
    return json.loads(events.encode(row, scoreboard={"home_score": 0, "away_score": 3, "possession": "KC"}))


def mutate(event: dict, path: str, value) -> bytes:
    target = event
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return json.dumps(event).encode()


_DELETE = object()
MALFORMED = [
    ("not json", lambda e: b"{not json", "not JSON"),
    ("not utf-8", lambda e: b"\xff\xfe{}", "not UTF-8"),
    ("array", lambda e: b"[1, 2]", "not a JSON object (got array)"),
    ("empty", lambda e: None, "empty record"),
    ("no schema", lambda e: mutate(e, "schema", _DELETE), "missing required field 'schema'"),
    ("other schema", lambda e: mutate(e, "schema", "acme.play/1"), "unknown schema 'acme.play/1'"),
    ("newer version", lambda e: mutate(e, "schema", "playcast.nfl.play/2"), "unsupported schema version"),
    ("schema type", lambda e: mutate(e, "schema", 1), "wrong type for field 'schema' (expected string"),
    ("no play", lambda e: mutate(e, "play", _DELETE), "missing required field 'play'"),
    ("play not object", lambda e: mutate(e, "play", "x"), "wrong type for field 'play' (expected object"),
    ("no game_id", lambda e: mutate(e, "play.game_id", _DELETE), "missing required field 'play.game_id'"),
    ("null play_id", lambda e: mutate(e, "play.play_id", None), "missing required field 'play.play_id'"),
    ("no quarter", lambda e: mutate(e, "play.quarter", _DELETE), "missing required field 'play.quarter'"),
    (
        "quarter as text",
        lambda e: mutate(e, "play.quarter", "4"),
        "wrong type for field 'play.quarter' (expected integer, got string",
    ),
    (
        "bool as integer",
        lambda e: mutate(e, "play.down", True),
        "wrong type for field 'play.down' (expected integer, got boolean",
    ),
    (
        "flag as integer",
        lambda e: mutate(e, "play.play_deleted", 0),
        "wrong type for field 'play.play_deleted' (expected boolean, got integer",
    ),
    (
        "sequence as text",
        lambda e: mutate(e, "play.play_sequence", "1"),
        "'play.play_sequence' (expected number",
    ),
    (
        "stats not json",
        lambda e: mutate(e, "play.stats", "{oops"),
        "'play.stats' (expected a JSON array as text",
    ),
    ("no event_id", lambda e: mutate(e, "event_id", _DELETE), "missing required field 'event_id'"),
    ("wrong event_id", lambda e: mutate(e, "event_id", "x:1"), "does not match play game_id:play_id"),
    ("event_time number", lambda e: mutate(e, "event_time", 5), "wrong type for field 'event_time'"),
    ("no sent_at", lambda e: mutate(e, "sent_at", _DELETE), "missing required field 'sent_at'"),
    ("scoreboard list", lambda e: mutate(e, "scoreboard", []), "wrong type for field 'scoreboard'"),
    (
        "score text",
        lambda e: mutate(e, "scoreboard.home_score", "3"),
        "'scoreboard.home_score' (expected integer",
    ),
]


@pytest.mark.parametrize(("case", "make", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_decode_rejects_malformed_events_with_a_clear_reason(super_bowl, case, make, reason):
    value = make(valid_event(super_bowl))
    with pytest.raises(events.InvalidEvent) as raised:
        events.decode(value)
    assert reason in str(raised.value)


def test_decode_accepts_missing_optional_fields_and_ignores_unknown_ones(super_bowl):
    event = valid_event(super_bowl)
    for field in ("clock", "stats", "yard_line", "description"):
        del event["play"][field]
    event["play"]["weather"] = "sunny"  # a field a newer producer might add
    del event["scoreboard"]["possession"]
    del event["event_time"]  # unknown: the same as null
    decoded = events.decode(json.dumps(event))
    assert decoded["play"]["clock"] is None and decoded["play"]["stats"] == "[]"
    assert decoded["event_time"] is None
    assert "weather" not in decoded["play"]
    assert decoded["scoreboard"] == {
        "home_score": 0,
        "away_score": 3,
        "home_timeouts": None,
        "away_timeouts": None,
        "possession": None,
    }


def test_encode_refuses_a_row_that_would_not_decode(super_bowl):
    row = dict(super_bowl[5], quarter=None)
    with pytest.raises(events.InvalidEvent, match=r"missing required field 'play\.quarter'"):
        events.encode(row)


# --- replay + offsets ---------------------------------------------------------------------------------------


def test_replay_at_max_speed_publishes_the_game_in_order(kafka_broker, data_mirror, super_bowl):
    topic = fresh_topic(kafka_broker)
    stats = replay.replay_nfl(kafka_broker, [SUPER_BOWL], speed="max", topic=topic, mirror=data_mirror)
    assert (stats.events, stats.games) == (len(super_bowl), 1)

    ranges = offsets.next_ranges(kafka_broker, topic, {}, max_events=10_000)
    assert len(ranges) == 1  # keyed by game: one partition
    assert sum(end - start for start, end in ranges.values()) == len(super_bowl)
    records = offsets.read_ranges(kafka_broker, topic, ranges)
    assert {r.key for r in records} == {SUPER_BOWL.encode()}
    decoded = [events.decode(r.value) for r in records]
    assert [e["play"]["play_id"] for e in decoded] == [row["play_id"] for row in super_bowl]
    assert not any(e["play"]["play_deleted"] for e in decoded)
    sequences = [e["play"]["play_sequence"] for e in decoded]
    assert sequences == sorted(sequences)

    cursor = offsets.advance({}, ranges)
    assert offsets.next_ranges(kafka_broker, topic, cursor, max_events=10_000) == {}


def test_replay_interleaves_games_by_event_time_and_keeps_each_game_in_order(kafka_broker, data_mirror):
    topic = fresh_topic(kafka_broker, partitions=1)  # one partition: the log shows the global send order
    stats = replay.replay_nfl(kafka_broker, SUNDAY_1PM, topic=topic, mirror=data_mirror)
    decoded = [events.decode(r.value)["play"] for r in read_all(kafka_broker, topic)]
    assert len(decoded) == stats.events == sum(len(replay.load_game(g, data_mirror)) for g in SUNDAY_1PM)
    for game in SUNDAY_1PM:
        sequences = [p["play_sequence"] for p in decoded if p["game_id"] == game]
        assert sequences and sequences == sorted(sequences)
    pacing = {
        (row["game_id"], row["play_id"]): t
        for game in SUNDAY_1PM
        for t, row, _ in replay.timeline(replay.load_game(game, data_mirror))
    }
    sent_times = [pacing[p["game_id"], p["play_id"]] for p in decoded]
    assert sent_times == sorted(sent_times)
    order = [p["game_id"] for p in decoded]
    assert sum(a != b for a, b in itertools.pairwise(order)) > 50  # like a real Sunday


def test_next_ranges_caps_the_slice_fairly_and_a_cursor_walk_reads_everything_once(kafka_broker, data_mirror):
    topic = fresh_topic(kafka_broker, partitions=4)
    games = [SUPER_BOWL, *CONFERENCE_GAMES, *SUNDAY_1PM]
    stats = replay.replay_nfl(kafka_broker, games, topic=topic, mirror=data_mirror)
    whole = offsets.next_ranges(kafka_broker, topic, {}, max_events=10**9)
    assert sum(e - s for s, e in whole.values()) == stats.events

    first = offsets.next_ranges(kafka_broker, topic, {}, max_events=100)
    sizes = [e - s for s, e in first.values()]
    assert sum(sizes) == 100
    assert max(sizes) - min(sizes) <= 1 or len(first) == 1  # shared evenly across partitions that have data

    cursor: dict[int, int] = {}
    seen: list[tuple[int, int]] = []
    slices = 0
    while ranges := offsets.next_ranges(kafka_broker, topic, cursor, max_events=170):
        assert sum(e - s for s, e in ranges.values()) <= 170
        records = offsets.read_ranges(kafka_broker, topic, ranges)
        assert [(r.partition, r.offset) for r in records] == [
            (p, o) for p, (s, e) in sorted(ranges.items()) for o in range(s, e)
        ]
        seen += [(r.partition, r.offset) for r in records]
        cursor = offsets.advance(cursor, ranges)
        slices += 1
    assert len(seen) == len(set(seen)) == stats.events
    assert slices >= stats.events // 170
    assert cursor == {p: e for p, (_, e) in whole.items()}


def produce_in_batches(bootstrap: str, topic: str, batches: int, size: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=1000, batch_size=1 << 20)
    for b in range(batches):
        for i in range(size):
            producer.send(topic, value=f"{b}-{i}".encode(), partition=0)
        producer.flush()  # one record batch of `size` records
    producer.close()


def test_tansu_end_offsets_is_short(kafka_broker):
    """Characterizes the broker, not playcast: Tansu 0.6.0 answers ListOffsets(latest) with the base offset of
    the last record batch + 1, so `end_offsets()` misses up to a batch. If this starts failing, Tansu fixed it
    (and the note in stream/offsets.py can say so)."""
    topic = fresh_topic(kafka_broker, partitions=1)
    produce_in_batches(kafka_broker, topic, batches=10, size=10)
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    reported = consumer.end_offsets([tp])[tp]
    consumer.close()
    assert reported == 91  # not 100


def test_next_ranges_finds_everything_when_end_offsets_is_short(kafka_broker):
    topic = fresh_topic(kafka_broker, partitions=1)
    produce_in_batches(kafka_broker, topic, batches=3, size=40)
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    reported = consumer.end_offsets([tp])[tp]
    consumer.close()
    ranges = offsets.next_ranges(kafka_broker, topic, {}, max_events=1000)
    assert ranges == {0: (0, 120)}
    assert reported <= 120  # (81 with Tansu: trusting it would strand 39 events)
    assert [r.value for r in offsets.read_ranges(kafka_broker, topic, ranges)][-1] == b"2-39"
    assert offsets.next_ranges(kafka_broker, topic, {0: 81}, max_events=1000) == {0: (81, 120)}


def test_read_ranges_returns_exactly_the_requested_offsets(kafka_broker):
    topic = fresh_topic(kafka_broker, partitions=2)
    producer = KafkaProducer(bootstrap_servers=kafka_broker, linger_ms=5)
    for i in range(60):
        producer.send(topic, key=b"k", value=str(i).encode(), partition=i % 2)
    producer.close()
    records = offsets.read_ranges(kafka_broker, topic, {0: (5, 17), 1: (29, 30)})
    assert [(r.partition, r.offset) for r in records] == [(0, o) for o in range(5, 17)] + [(1, 29)]
    assert [r.value for r in records][:2] == [b"10", b"12"]  # partition 0 holds the even numbers
    assert all(r.topic == topic and r.key == b"k" and r.timestamp > 0 for r in records)
    assert offsets.read_ranges(kafka_broker, topic, {0: (3, 3)}) == []

    with pytest.raises(offsets.RangeUnavailableError, match=r"partition 1: wanted \[25, 40\), read up to 30"):
        offsets.read_ranges(kafka_broker, topic, {1: (25, 40)}, timeout_s=0.5)
    with pytest.raises(offsets.RangeUnavailableError, match="no partition"):
        offsets.read_ranges(kafka_broker, topic, {7: (0, 1)})


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_read_ranges_reads_record_batches_of_every_kafka_codec(kafka_broker, codec):
    """A production topic's producers pick the codec: the consumer side needs each one's library installed
    (kafka-python fails on a batch whose codec library is missing)."""
    topic = fresh_topic(kafka_broker, partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka_broker, compression_type=codec, linger_ms=50)
    for i in range(200):
        producer.send(topic, value=json.dumps({"n": i, "pad": "x" * 100}).encode(), partition=0)
    producer.close()
    records = read_all(kafka_broker, topic)
    assert [json.loads(r.value)["n"] for r in records] == list(range(200))


def test_reading_ahead_in_chunks_gives_the_same_records_and_hands_errors_over(kafka_broker):
    topic = fresh_topic(kafka_broker, partitions=2)
    producer = KafkaProducer(bootstrap_servers=kafka_broker, linger_ms=5)
    for i in range(500):
        producer.send(topic, value=str(i).encode(), partition=i % 2)
    producer.close()
    ranges = {0: (0, 250), 1: (10, 200)}
    with offsets.ReadAhead(offsets.iter_ranges(kafka_broker, topic, ranges, chunk=40)) as chunks:
        received = list(chunks)
    assert max(len(chunk) for chunk in received) <= 40 and len(received) >= 440 // 40
    by_key = sorted((r.partition, r.offset) for chunk in received for r in chunk)
    assert by_key == [(r.partition, r.offset) for r in offsets.read_ranges(kafka_broker, topic, ranges)]

    missing = offsets.ReadAhead(offsets.iter_ranges(kafka_broker, topic, {1: (240, 260)}, timeout_s=0.5))
    with pytest.raises(offsets.RangeUnavailableError, match=r"wanted \[240, 260\)"), missing as chunks:
        list(chunks)  # raised in the reader's thread, handed to the caller

    reader = offsets.ReadAhead(offsets.iter_ranges(kafka_broker, topic, ranges, chunk=10), depth=1)
    with reader as chunks:
        next(chunks)  # the caller stops early: the reader must not stay blocked on its full queue
    assert not reader._thread.is_alive()


def test_a_cursor_past_the_end_and_an_unknown_topic_fail_clearly(kafka_broker):
    topic = fresh_topic(kafka_broker, partitions=2)
    with pytest.raises(offsets.CursorAheadError, match="partition 1: cursor 5 > log end 0"):
        offsets.next_ranges(kafka_broker, topic, {1: 5}, max_events=10)
    with pytest.raises(offsets.UnknownTopicError, match="does not exist"):
        offsets.next_ranges(kafka_broker, "no.such.topic", {}, max_events=10)


def test_next_ranges_on_an_idle_topic_is_quick_and_a_consumer_can_be_reused(kafka_broker):
    topic = fresh_topic(kafka_broker, partitions=4)
    offsets.next_ranges(kafka_broker, topic, {}, max_events=10)  # warm-up (imports, first metadata)
    started = time.monotonic()
    for _ in range(5):
        assert offsets.next_ranges(kafka_broker, topic, {}, max_events=10) == {}
    assert (time.monotonic() - started) / 5 < 1.0

    consumer = offsets.make_consumer(kafka_broker)
    try:
        assert offsets.next_ranges(kafka_broker, topic, {}, 10, consumer=consumer) == {}
        KafkaProducer(bootstrap_servers=kafka_broker).send(topic, value=b"x", partition=2).get(10)
        assert offsets.next_ranges(kafka_broker, topic, {}, 10, consumer=consumer) == {2: (0, 1)}
        assert [
            r.value for r in offsets.read_ranges(kafka_broker, topic, {2: (0, 1)}, consumer=consumer)
        ] == [b"x"]
        assert offsets.next_ranges(kafka_broker, topic, {2: 1}, 10, consumer=consumer) == {}
    finally:
        consumer.close()


def test_split_fair():
    assert offsets.split_fair({0: 50, 1: 3, 2: 50, 3: 0}, 40) == {0: 19, 1: 3, 2: 18, 3: 0}
    assert offsets.split_fair({0: 5, 1: 5}, 100) == {0: 5, 1: 5}
    assert offsets.split_fair({0: 5, 1: 5}, 0) == {0: 0, 1: 0}
    assert offsets.ranges_key("t", {3: (0, 5), 0: (10, 20)}) == "t:0=10-20,3=0-5"


def test_paced_replay_takes_about_the_scaled_game_time(kafka_broker, data_mirror, super_bowl):
    times = [t for t, _, _ in replay.timeline(super_bowl)]
    real = sum(min(b - a, replay.MAX_GAP_S) for a, b in itertools.pairwise(times))
    assert real > 3600  # a Super Bowl with gaps capped at 30 s still lasts hours
    speed = real / 2.0  # about 2 s of wall time
    topic = fresh_topic(kafka_broker)
    stats = replay.replay_nfl(kafka_broker, [SUPER_BOWL], speed=speed, topic=topic, mirror=data_mirror)
    assert stats.events == len(super_bowl)
    assert 1.6 < stats.seconds < 6.0


def test_a_paced_replay_reports_progress_by_time_too(kafka_broker, super_bowl):
    messages: list[str] = []
    sent, seconds = replay.publish(
        kafka_broker, [replay.timeline(super_bowl)], fresh_topic(kafka_broker),
        lambda row, board: events.encode(row, scoreboard=board), "game_id",
        speed=5000, progress_seconds=0.4, progress=messages.append,
    )  # fmt: skip
    assert sent == len(super_bowl) < 5000  # never a multiple of progress_every
    assert len(messages) >= int(seconds / 0.4) - 1 >= 2, (seconds, messages)
    assert messages[-1].startswith("replay: ") and f"/{len(super_bowl)} events" in messages[-1]


# --- CLI ----------------------------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="playcast")
    cli.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cli_replay_publishes_and_reports(kafka_broker, data_mirror, capsys, monkeypatch):
    monkeypatch.setenv("PLAYCAST_DATA_MIRROR", str(data_mirror))
    topic = fresh_topic(kafka_broker)
    args = parse(
        [
            "replay",
            "nfl",
            "--game",
            SUPER_BOWL,
            "--speed",
            "max",
            "--topic",
            topic,
            "--bootstrap",
            kafka_broker,
        ]
    )
    assert args.stream_handler(args) == 0
    assert "published 225 events from 1 game" in capsys.readouterr().out
    assert len(read_all(kafka_broker, topic)) == 225

    for argv, message in [
        (["replay", "nfl"], "give --game"),
        (["replay", "nfl", "--game", SUPER_BOWL, "--speed", "fast"], "expected a positive number"),
        (["replay", "nfl", "--game", "2023_99_XX_YY", "--bootstrap", kafka_broker], "no game feed file"),
    ]:
        args = parse(argv)
        assert args.stream_handler(args) != 0
        assert message in capsys.readouterr().err
    assert parse(["broker"]).stream_handler.__name__ == "broker_command"


def test_replay_without_a_mirror_says_what_to_set(monkeypatch):
    monkeypatch.delenv("PLAYCAST_DATA_MIRROR", raising=False)
    with pytest.raises(replay.ReplayError, match="set PLAYCAST_DATA_MIRROR"):
        replay.replay_nfl("127.0.0.1:1", [SUPER_BOWL])
    assert os.environ.get("PLAYCAST_DATA_MIRROR") is None
