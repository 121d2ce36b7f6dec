"""Dagster's SQLite instance storage, with two races, a busy wait and a repeated schema check fixed.

1. A pool slot that only one step can claim at a time. Every step that writes the warehouse claims a slot of
the pool `warehouse` (limit 1). Dagster's SQLite event log claims a slot in two statements: it selects a free
slot, then sets its run and step by id. Two steps claiming at the same moment (e.g. the runs of a backfill,
started together) can both select the free slot and both set it, so both run: measured here in 2 of 8 tries of
two processes claiming at once. Postgres storage is not affected (its select locks the row). Here the update
takes the slot only if it is still free, so the later claim finds it taken and waits, as on Postgres.

2. A failed run that is retried. The daemon's retry consumer reads new run-failure events and retries the runs
that are marked failed. Dagster stores the failure event first and marks the run failed after it, so a
consumer reading in between finds the run still started, skips it and moves its cursor past it: the run is
never retried (seen here in one of six killed runs: the consumer and run monitoring tick together). Here the
run is marked failed before its failure event is stored.

3. A step that waits for a pool slot without spinning. Dagster's step loop checks a blocked claim again
only after a back-off (1 s growing to 15 s), and between checks it does not sleep: a run waiting for the slot
kept a core busy (5.2 s of CPU in a 5.3 s wait, measured here; dagster-io/dagster#20367 describes the zero
sleep and was closed unmerged). On this two-core machine that was the core the run holding the slot needed.
Here a blocked claim sleeps `POOL_POLL_SECONDS` before it answers and asks to be checked again right away: a
waiting step polls the storage every 0.2 s, idle in between, and takes the slot at its next poll.

4. An instance that opens its databases without re-reading Dagster's migrations. Opening the run and schedule
databases, Dagster checks their schema revision against the head of its migration scripts, which it reads
anew each time (~90 Python files): ~0.08 s of CPU. A code server opens an instance for every sensor tick (the
sensor's resources need it), so that check was half of the live code server's CPU while idle. Here a process
checks each database once; the instances it opens later on the same files skip the check.

Set in orchestration/dagster.yaml (`storage: custom`); the data lives where Dagster's default SQLite storage
keeps it (runs, event logs and schedules under `DAGSTER_HOME`).
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as db
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import ConcurrencySlotsTable
from dagster._core.storage.runs import RunStorage, SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite import create_db_conn_string
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from dagster._time import datetime_from_timestamp
from dagster._utils.concurrency import ConcurrencyClaimStatus, ConcurrencySlotStatus

POOL_POLL_SECONDS = 0.2


class PlaycastSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose slot claim is a compare-and-set that waits when blocked, and whose run
    failures are marked first."""

    def __init__(self, base_dir: str, run_storage: RunStorage) -> None:
        super().__init__(base_dir)
        self._run_storage = run_storage

    def store_event(self, event: EventLogEntry) -> None:
        failure = event.dagster_event
        if failure is not None and failure.event_type == DagsterEventType.RUN_FAILURE:
            # the instance marks the run failed again after this, with the same values
            self._run_storage.handle_run_event(
                event.run_id, failure, datetime_from_timestamp(event.timestamp)
            )
        super().store_event(event)

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> ConcurrencyClaimStatus:
        status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
        if status.is_claimed:
            return status
        time.sleep(POOL_POLL_SECONDS)
        return status.with_sleep_interval(0.0)

    def _claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str
    ) -> ConcurrencySlotStatus:
        free = db.and_(
            ConcurrencySlotsTable.c.concurrency_key == concurrency_key,
            ConcurrencySlotsTable.c.step_key.is_(None),
            ConcurrencySlotsTable.c.deleted.is_(False),
        )
        with self.index_connection() as conn:
            slot = conn.execute(
                db.select(ConcurrencySlotsTable.c.id).where(free).limit(1)
            ).scalar_one_or_none()
            if slot is None:
                return ConcurrencySlotStatus.BLOCKED
            taken = conn.execute(
                ConcurrencySlotsTable.update()
                .values(run_id=run_id, step_key=step_key)
                .where(db.and_(ConcurrencySlotsTable.c.id == slot, free))
            ).rowcount
        return ConcurrencySlotStatus.CLAIMED if taken else ConcurrencySlotStatus.BLOCKED


_CHECKED: set[str] = set()  # base dirs whose run and schedule databases this process has checked


class PlaycastSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, event logs, schedules under `base_dir`) with playcast's event log; the
    databases' schema is checked (created, migrated) by the first instance of the process only."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        runs = create_db_conn_string(_runs_directory(base_dir), "runs")
        schedules = create_db_conn_string(_schedule_directory(base_dir), "schedules")
        files = [Path(url.removeprefix("sqlite:///")) for url in (runs, schedules)]
        if base_dir in _CHECKED and all(file.exists() for file in files):
            self.base_dir, self._inst_data = base_dir, inst_data
            self._run_storage = SqliteRunStorage(runs)
            self._schedule_storage = SqliteScheduleStorage(schedules)
            super(DagsterSqliteStorage, self).__init__()  # what DagsterSqliteStorage.__init__ ends with
        else:
            super().__init__(base_dir, inst_data=inst_data)  # from_local: checks (creates, migrates) them
            self._event_log_storage.dispose()
            _CHECKED.add(base_dir)
        self._event_log_storage = PlaycastSqliteEventLogStorage(
            _event_logs_directory(base_dir), run_storage=self._run_storage
        )

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: dict[str, str]
    ) -> PlaycastSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
