"""orchestration/instance_storage.py: two processes claiming the one slot of a pool at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dagster as dg

from orchestration.instance_storage import SlotSafeSqliteEventLogStorage
from tests.pipeline import dagster_home

ROUNDS, PERIOD = 20, 0.3
# each round both processes claim the slot at the same instant, then give it (or their pending step) back
CLAIMER = """
import sys, time
import dagster as dg
storage = dg.DagsterInstance.get().event_log_storage
run_id, start, rounds, period = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
for k in range(rounds):
    while time.time() < start + k * period:
        pass
    print(int(storage.claim_concurrency_slot("warehouse", run_id, f"step{k}").is_claimed), flush=True)
    time.sleep(period / 2)
    storage.free_concurrency_slot_for_step(run_id, f"step{k}")
"""


def test_only_one_of_two_simultaneous_claims_gets_the_pools_slot(tmp_path, monkeypatch):
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's storage finds its files through it
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    instance = dg.DagsterInstance.from_config(str(home))
    assert isinstance(instance.event_log_storage, SlotSafeSqliteEventLogStorage)  # playcast's dagster.yaml
    instance.event_log_storage.initialize_concurrency_limit_to_default("warehouse")  # the pool: one slot
    start = time.time() + 5  # both processes have imported dagster by then
    claimers = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, run_id, str(start), str(ROUNDS), str(PERIOD)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for run_id in ("run-a", "run-b")
    ]
    won = [[int(line) for line in claimer.communicate(timeout=60)[0].split()] for claimer in claimers]
    assert all(len(rounds) == ROUNDS for rounds in won)
    # Dagster's own SQLite storage gave the slot to both in about one round of four here
    assert [a + b for a, b in zip(*won, strict=True)] == [1] * ROUNDS
