"""orchestration/instance_storage.py: two processes claiming the one slot of a pool at the same moment, a
run failure that the retry consumer must not read before the run is marked failed, a step waiting for the
pool without spinning, and instances that check their databases' schema once per process."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time

import dagster as dg
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.utils import make_new_run_id

from orchestration.instance_storage import PlaycastSqliteEventLogStorage
from tests.pipeline import dagster_home

ROUNDS, PERIOD = 20, 0.3
# each round both processes claim the slot at the same instant; a winner holds it for half a round and prints
# when it held it; then both give back the slot or their pending claim
CLAIMER = """
import sys, time
import dagster as dg
storage = dg.DagsterInstance.get().event_log_storage
run_id, rounds, period = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print("ready", flush=True)
start = float(sys.stdin.readline())
for k in range(rounds):
    while time.time() < start + k * period:
        pass
    if storage.claim_concurrency_slot("warehouse", run_id, f"step{k}").is_claimed:
        held = time.time()
        time.sleep(period / 2)
        print(held, time.time(), flush=True)
    storage.free_concurrency_slot_for_step(run_id, f"step{k}")
"""


def test_two_simultaneous_claims_never_both_hold_the_pools_one_slot(tmp_path, monkeypatch):
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's storage finds its files through it
    instance = dg.DagsterInstance.from_config(str(home))
    assert isinstance(instance.event_log_storage, PlaycastSqliteEventLogStorage)  # playcast's dagster.yaml
    instance.event_log_storage.initialize_concurrency_limit_to_default("warehouse")  # the pool: one slot
    claimers = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, run_id, str(ROUNDS), str(PERIOD)],
            env={**os.environ, "DAGSTER_HOME": str(home)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for run_id in ("run-a", "run-b")
    ]
    assert [claimer.stdout.readline().strip() for claimer in claimers] == ["ready", "ready"]
    start = time.time() + 0.5
    held = []
    for claimer in claimers:
        claimer.stdin.write(f"{start}\n")
        claimer.stdin.flush()
    for claimer in claimers:
        held += [tuple(map(float, line.split())) for line in claimer.communicate(timeout=60)[0].splitlines()]
    assert len(held) >= ROUNDS // 2  # the slot was taken and given back, round after round
    # Dagster's own SQLite storage let both hold it at once in about one round of four here
    overlaps = [(a, b) for a, b in itertools.pairwise(sorted(held)) if b[0] < a[1]]
    assert overlaps == []


def test_a_run_is_marked_failed_before_its_failure_event_is_stored(tmp_path, monkeypatch):
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    run = instance.add_run(dg.DagsterRun(job_name="nfl_live_scoring", status=dg.DagsterRunStatus.STARTED))
    seen = []  # the run's status as a reader of the event log (the daemon's retry consumer) would find it
    store = SqliteEventLogStorage.store_event

    def store_and_look(storage, event):
        if event.dagster_event and event.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE:
            seen.append(instance.get_run_by_id(run.run_id).status)
        store(storage, event)

    monkeypatch.setattr(SqliteEventLogStorage, "store_event", store_and_look)
    instance.report_run_failed(run)
    assert seen == [dg.DagsterRunStatus.FAILURE]  # Dagster's own storage: STARTED, and no retry
    [failure] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert (
        instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        and failure.run_id == run.run_id
    )


def test_a_step_waits_for_the_pool_idle_and_starts_soon_after_the_slot_is_freed(tmp_path, monkeypatch):
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default("warehouse")
    assert storage.claim_concurrency_slot("warehouse", "other-run", "scoring").is_claimed

    @dg.asset(pool="warehouse")
    def writes_the_warehouse() -> None:
        pass

    waited = {}

    def hold_then_free() -> None:
        time.sleep(0.5)  # the run has started and its step is waiting by now
        cpu, started = time.process_time(), time.perf_counter()
        time.sleep(2.0)
        waited["cpu"], waited["seconds"] = time.process_time() - cpu, time.perf_counter() - started
        waited["freed_at"] = time.time()
        storage.free_concurrency_slots_for_run("other-run")

    holder = threading.Thread(target=hold_then_free)
    holder.start()
    result = dg.materialize([writes_the_warehouse], instance=instance)
    holder.join()
    assert result.success
    # Dagster's own wait kept a core busy: 2.0 s of CPU in these 2.0 s
    assert waited["cpu"] < 0.25 * waited["seconds"], waited
    [start] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_START)
    assert 0 <= start.timestamp - waited["freed_at"] < 0.8  # Dagster's back-off checks again after 1-15 s


def test_a_process_checks_its_databases_schema_once_and_later_instances_share_them(tmp_path, monkeypatch):
    import dagster._core.storage.runs.sqlite.sqlite_run_storage as run_storage
    import dagster._core.storage.schedules.sqlite.sqlite_schedule_storage as schedule_storage

    checks = []
    for module in (run_storage, schedule_storage):  # count Dagster's schema checks (each still runs)
        check = module.check_alembic_revision
        monkeypatch.setattr(module, "check_alembic_revision", lambda *a, c=check: checks.append(1) or c(*a))
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as first:
        assert len(checks) == 2  # a new home: its run and schedule databases created and checked
        run = first.add_run(dg.DagsterRun(job_name="job", run_id=make_new_run_id()))
    with dg.DagsterInstance.from_config(str(home)) as later:
        assert len(checks) == 2  # not checked again
        assert later.get_run_by_id(run.run_id).job_name == "job"  # the same databases
        later.add_run(dg.DagsterRun(job_name="job", run_id=make_new_run_id()))
        assert later.all_instigator_state() == []  # the schedule database answers too
        assert isinstance(later.event_log_storage, PlaycastSqliteEventLogStorage)
    other = dagster_home(tmp_path / "other")
    monkeypatch.setenv("DAGSTER_HOME", str(other))  # the storage's base_dir (orchestration/dagster.yaml)
    with dg.DagsterInstance.from_config(str(other)):
        assert len(checks) == 4  # another home is checked on its own
