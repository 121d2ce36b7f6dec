"""Kafka for playcast: a local broker, the event schemas (NFL plays, NBA actions), game replay, offset ranges.

Plain Python (no Dagster import). Only `stream.broker` knows about Tansu; everything else takes a bootstrap
string and works against any Kafka-compatible broker (Apache Kafka, Redpanda, Tansu).
"""

from __future__ import annotations

import os

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
NFL_TOPIC = "playcast.nfl.plays"
NBA_TOPIC = "playcast.nba.actions"
# topic -> partitions created by `playcast broker` (and the test broker) when the topic is missing
TOPICS: dict[str, int] = {NFL_TOPIC: 4, NBA_TOPIC: 4}


def bootstrap_from_env() -> str:
    """`PLAYCAST_KAFKA_BOOTSTRAP`, default 127.0.0.1:9092."""
    return os.environ.get("PLAYCAST_KAFKA_BOOTSTRAP") or DEFAULT_BOOTSTRAP


def error_text(error: BaseException) -> str:
    """'Name: message', the name once (kafka-python's errors already begin their message with it)."""
    text, name = str(error), type(error).__name__
    return text if text == name or text.startswith(f"{name}:") else f"{name}: {text}"
