"""Offset-range reading for a cursor-driven consumer (a Dagster sensor + micro-batch runs).

The caller's cursor (next offset per partition) is the source of truth: no consumer group, no commits.

    ranges = next_ranges(bootstrap, topic, cursor, max_events=5000)    # {partition: (start, end)}, half-open
    records = read_ranges(bootstrap, topic, ranges)                    # exactly those offsets, in order
    cursor = advance(cursor, ranges)

Why not `KafkaConsumer.end_offsets()`: it sends ListOffsets(latest), and Tansu 0.6.0 (the local broker)
answers it with the *base offset of the last record batch + 1*, not the log end offset. After a batch of 10
records at offsets 90..99 it reports 91 instead of 100, so a consumer trusting it would stall on up to a
batch of events until more arrive (and a replay at speed max, which sends big batches, would leave most of
its last batch unscored). tests/test_stream.py::test_tansu_end_offsets_is_short reproduces it.
What *is* reliable (Tansu and Apache Kafka alike) is the high watermark every Fetch response carries: we
assign the partitions, seek, poll once per partition and use `consumer.highwater(tp)` from that fetch
(kafka-python stores it even when the fetch returns no records), together with the offsets of the records
actually fetched. The seek goes to max(cursor, ListOffsets - 1): ListOffsets is only a lower-bound hint that
keeps the fetch small (Tansu ignores the fetch size limits and returns everything after the fetch offset, so
a fetch at the cursor of a 50k-event backlog would pull the whole backlog); the answer never depends on it.
The consumer reads `read_uncommitted` (playcast's producers are idempotent but not transactional).

Only offsets below a fetch's high watermark are returned, and read_ranges reads until each partition's
position reaches the range end (so gaps from compaction or transaction markers on Apache Kafka are fine).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, OffsetOutOfRangeError

from stream import error_text

Ranges = dict[int, tuple[int, int]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int  # ms since the epoch (the producer's CreateTime, or the broker's LogAppendTime)


class OffsetError(RuntimeError):
    """Offsets could not be determined or read."""


class UnknownTopicError(OffsetError):
    pass


class CursorAheadError(OffsetError):
    """The cursor points past the end of a partition: the topic was recreated or the in-memory broker
    restarted and lost its events. Reset the cursor (e.g. the sensor's) to read the new log."""


class RangeUnavailableError(OffsetError):
    """read_ranges could not get an offset of the requested ranges from the broker in time."""


def make_consumer(bootstrap: str, **config) -> KafkaConsumer:
    """A consumer for manual assignment: no group, no commits, no topic auto-creation, and an error (not a
    silent reset to earliest/latest) when an offset is out of range."""
    settings = {
        "bootstrap_servers": bootstrap,
        "client_id": "playcast-offsets",
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "none",
        "allow_auto_create_topics": False,
        "request_timeout_ms": 10000,
        "fetch_max_wait_ms": 10,  # an idle fetch comes back at once instead of long-polling 500 ms
    }
    settings.update(config)
    return KafkaConsumer(**settings)


def cluster_id(bootstrap: str, *, consumer: KafkaConsumer | None = None) -> str:
    """The cluster's id from its metadata: offsets are only comparable within one cluster (an in-memory
    broker that restarts starts a new log, and a new id, at offset 0)."""
    own = consumer is None
    consumer = consumer or make_consumer(bootstrap)
    try:
        consumer.topics()  # a metadata request
        return str(consumer._client.cluster.cluster_id)
    finally:
        if own:
            consumer.close()


def partitions(consumer: KafkaConsumer, topic: str) -> list[int]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise UnknownTopicError(
            f"topic {topic!r} does not exist on the broker (is `playcast broker` running?)"
        )
    return sorted(found)


def _assign(consumer: KafkaConsumer, tps: list[TopicPartition]) -> None:
    consumer.unsubscribe()  # drops any state (positions, high watermarks, buffered fetches) of earlier use
    consumer.assign(tps)


def high_watermarks(
    bootstrap: str,
    topic: str,
    cursor: Mapping[int, int] | None = None,
    *,
    timeout_s: float = 5.0,
    consumer: KafkaConsumer | None = None,
) -> dict[int, int]:
    """Log end per partition, from real Fetch responses made at the cursor (missing partition = 0).

    A `consumer` passed in serves one call once a partition had more than one record after the cursor:
    kafka-python (3.0.12) keeps the rest of that fetch for the partition paused here, and does not fetch that
    partition again after `_assign`, so a second call timed out (seen with one game of 225 plays)."""
    own = consumer is None
    consumer = consumer or make_consumer(bootstrap, max_poll_records=1, max_partition_fetch_bytes=64 * 1024)
    try:
        tps = {p: TopicPartition(topic, p) for p in partitions(consumer, topic)}
        _assign(consumer, list(tps.values()))
        start = {p: int((cursor or {}).get(p, 0)) for p in tps}
        # ListOffsets(latest) only as a lower bound of where to fetch, so that the fetch carries the last
        # record batch instead of the whole backlog from the cursor (Tansu ignores max_partition_fetch_bytes
        # and answers a fetch with everything after the offset). The end itself comes from the fetch.
        try:
            hint = consumer.end_offsets(list(tps.values()))
        except KafkaError:
            hint = {}
        for p, tp in tps.items():
            consumer.seek(tp, max(start[p], int(hint.get(tp) or 0) - 1))
        fetched: dict[int, int] = {}  # partition -> 1 + highest offset seen in a fetched record
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                batch = consumer.poll(timeout_ms=10)
            except OffsetOutOfRangeError as error:
                raise CursorAheadError(
                    f"{topic}: cursor {dict(start)} is out of range on {bootstrap} ({error}); the topic was "
                    "recreated, the broker restarted, or retention deleted those offsets"
                ) from error
            for tp, records in batch.items():
                if records:
                    fetched[tp.partition] = max(fetched.get(tp.partition, 0), records[-1].offset + 1)
            ends = {p: consumer.highwater(tp) for p, tp in tps.items()}
            if all(end is not None for end in ends.values()):
                break
            consumer.pause(*(tp for p, tp in tps.items() if ends[p] is not None))  # drop what we do not need
            if time.monotonic() > deadline:
                missing = sorted(p for p, end in ends.items() if end is None)
                raise OffsetError(
                    f"{topic}: no fetch response for partitions {missing} from {bootstrap} "
                    f"within {timeout_s} s"
                )
        ends = {p: max(end, fetched.get(p, 0)) for p, end in ends.items()}
        ahead = {p: (start[p], ends[p]) for p in tps if start[p] > ends[p]}
        if ahead:
            detail = ", ".join(
                f"partition {p}: cursor {c} > log end {e}" for p, (c, e) in sorted(ahead.items())
            )
            raise CursorAheadError(
                f"{topic} on {bootstrap}: {detail}. The topic was recreated or the broker restarted "
                "(the local broker keeps events in memory); reset the cursor."
            )
        return ends
    except KafkaError as error:
        raise OffsetError(f"{topic} on {bootstrap}: {error_text(error)}") from error
    finally:
        if own:
            consumer.close(autocommit=False)


def split_fair(available: Mapping[int, int], max_events: int) -> dict[int, int]:
    """How many events to take per partition: at most max_events in total, shared evenly (a partition that
    needs less than its share leaves the rest to the others; remainders go to the lowest partitions)."""
    take = {p: 0 for p in available}
    left = {p: n for p, n in available.items() if n > 0}
    budget = max(int(max_events), 0)
    while budget > 0 and left:
        share = max(budget // len(left), 1)
        for p in sorted(left):
            n = min(share, left[p], budget)
            take[p] += n
            left[p] -= n
            budget -= n
            if not left[p]:
                del left[p]
            if not budget:
                break
    return take


def next_ranges(
    bootstrap: str,
    topic: str,
    cursor: Mapping[int, int],
    max_events: int,
    *,
    timeout_s: float = 5.0,
    consumer: KafkaConsumer | None = None,
) -> Ranges:
    """The new offsets from `cursor` (next offset per partition; missing = 0) as half-open ranges
    {partition: (start, end)}, only partitions with something new, at most `max_events` in total, shared
    fairly across partitions. Every offset in a range exists on the broker (below a fetch's high watermark).
    Raises CursorAheadError when the cursor is past a partition's end (broker restarted / topic recreated).
    """
    ends = high_watermarks(bootstrap, topic, cursor, timeout_s=timeout_s, consumer=consumer)
    start = {p: int(cursor.get(p, 0)) for p in ends}
    take = split_fair({p: ends[p] - start[p] for p in ends}, max_events)
    return {p: (start[p], start[p] + n) for p, n in sorted(take.items()) if n > 0}


def advance(cursor: Mapping[int, int], ranges: Mapping[int, tuple[int, int]]) -> dict[int, int]:
    """The cursor after the ranges have been processed."""
    out = {int(p): int(o) for p, o in cursor.items()}
    for p, (_, end) in ranges.items():
        out[int(p)] = max(out.get(int(p), 0), int(end))
    return dict(sorted(out.items()))


def ranges_key(topic: str, ranges: Mapping[int, tuple[int, int]]) -> str:
    """A stable text form, e.g. 'playcast.nfl.plays:0=10-20,3=0-5' (usable as a Dagster run_key)."""
    parts = ",".join(f"{p}={s}-{e}" for p, (s, e) in sorted(ranges.items()))
    return f"{topic}:{parts}"


def iter_ranges(
    bootstrap: str,
    topic: str,
    ranges: Mapping[int, tuple[int, int]],
    *,
    timeout_s: float = 10.0,
    consumer: KafkaConsumer | None = None,
    chunk: int = 20000,
) -> Iterator[list[Record]]:
    """Exactly the records with offsets in the half-open ranges, as they arrive: lists of at most `chunk`
    records, each partition's in offset order.

    Raises RangeUnavailableError when the broker returns nothing new for `timeout_s` while offsets of a
    range are still missing (e.g. they never existed, or the broker lost them).
    """
    wanted = {int(p): (int(s), int(e)) for p, (s, e) in ranges.items()}
    for p, (s, e) in wanted.items():
        if s < 0 or e < s:
            raise ValueError(f"partition {p}: invalid offset range [{s}, {e})")
    wanted = {p: r for p, r in wanted.items() if r[1] > r[0]}
    if not wanted:
        return
    own = consumer is None
    consumer = consumer or make_consumer(
        bootstrap,
        # no more than asked for: Tansu answers a fetch with everything after the offset, and kafka-python
        # decodes lazily, so this keeps a small slice of a big backlog from decoding the whole backlog
        max_poll_records=max(1, min(sum(e - s for s, e in wanted.values()), chunk)),
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        fetch_max_wait_ms=50,
    )
    try:
        tps = {p: TopicPartition(topic, p) for p in wanted}
        known = set(partitions(consumer, topic))
        if not set(tps) <= known:
            raise RangeUnavailableError(f"{topic} has no partition(s) {sorted(set(tps) - known)}")
        _assign(consumer, list(tps.values()))
        for p, tp in tps.items():
            consumer.seek(tp, wanted[p][0])
        pending = set(wanted)
        deadline = time.monotonic() + timeout_s
        while pending:
            try:
                batch = consumer.poll(timeout_ms=100)
            except OffsetOutOfRangeError as error:
                raise RangeUnavailableError(
                    f"{topic}: offsets out of range on {bootstrap} ({error})"
                ) from error
            records = [
                Record(topic, tp.partition, r.offset, r.key, r.value, r.timestamp)
                for tp, fetched in batch.items()
                for r in fetched
                if wanted[tp.partition][0] <= r.offset < wanted[tp.partition][1]
            ]
            for p in list(pending):
                if consumer.position(tps[p]) >= wanted[p][1]:
                    pending.discard(p)
                    consumer.pause(tps[p])
            if records:
                yield records
            if batch:
                deadline = time.monotonic() + timeout_s
            elif pending and time.monotonic() > deadline:
                detail = "; ".join(
                    f"partition {p}: wanted [{wanted[p][0]}, {wanted[p][1]}), read up to "
                    f"{consumer.position(tps[p])}, broker high watermark {consumer.highwater(tps[p])}"
                    for p in sorted(pending)
                )
                raise RangeUnavailableError(
                    f"{topic} on {bootstrap}: no new records for {timeout_s} s; {detail}"
                )
    except KafkaError as error:
        raise OffsetError(f"{topic} on {bootstrap}: {error_text(error)}") from error
    finally:
        if own:
            consumer.close(autocommit=False)


def read_ranges(
    bootstrap: str,
    topic: str,
    ranges: Mapping[int, tuple[int, int]],
    *,
    timeout_s: float = 10.0,
    consumer: KafkaConsumer | None = None,
) -> list[Record]:
    """Exactly the records with offsets in the half-open ranges, ordered by partition then offset (see
    iter_ranges)."""
    by_partition: dict[int, list[Record]] = {}
    for records in iter_ranges(bootstrap, topic, ranges, timeout_s=timeout_s, consumer=consumer):
        for record in records:
            by_partition.setdefault(record.partition, []).append(record)
    return [record for p in sorted(by_partition) for record in by_partition[p]]


class ReadAhead(Generic[T]):
    """Iterates `chunks` in a background thread, up to `depth` items ahead of the caller, from the moment it
    is entered, so that reading (Python-bound in kafka-python) overlaps the caller's work (pyarrow and DuckDB
    release the GIL). The producer's exception is raised in the caller; leaving the block stops the producer.

        with ReadAhead(iter_ranges(bootstrap, topic, ranges)) as chunks:
            for chunk in chunks: ...
    """

    _DONE = object()

    def __init__(self, chunks: Iterable[T], depth: int = 4) -> None:
        self._chunks = chunks
        self._items: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="playcast-read-ahead", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._drain()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _drain(self) -> Iterator[T]:
        while True:
            item, error = self._items.get()
            if error is not None:
                raise error
            if item is self._DONE:
                return
            yield item

    def _put(self, entry: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        iterator = iter(self._chunks)
        try:
            for item in iterator:
                if not self._put((item, None)):
                    return
            self._put((self._DONE, None))
        except BaseException as error:  # handed to the caller
            self._put((self._DONE, error))
        finally:
            if hasattr(iterator, "close"):
                iterator.close()
