"""orchestration/run_coordinator.py: which live runs skip the run queue. (That a lone live run launches at
once, through the daemon, is checked in tests/test_live.py.)"""

from __future__ import annotations

import dagster as dg
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import SubmitRunContext

from orchestration.run_coordinator import FAST_LANE_TAG, FastLaneRunCoordinator
from tests.pipeline import dagster_home


def _add_run(
    instance: dg.DagsterInstance, job: str, status: dg.DagsterRunStatus, tags: dict
) -> dg.DagsterRun:
    origin = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("playcast_live"), "__repository__")
    run = dg.DagsterRun(job_name=job, status=status, tags=tags, remote_job_origin=origin.get_job_origin(job))
    return instance.add_run(run)


def _submit(instance: dg.DagsterInstance, job: str, tags: dict) -> dg.DagsterRunStatus:
    run = _add_run(instance, job, dg.DagsterRunStatus.NOT_STARTED, tags)
    return instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None)).status


def test_a_live_run_queues_behind_its_jobs_waiting_run_and_other_runs_always_queue(tmp_path, monkeypatch):
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    assert isinstance(instance.run_coordinator, FastLaneRunCoordinator)  # playcast's dagster.yaml
    _add_run(instance, "nfl_live_scoring", dg.DagsterRunStatus.QUEUED, {FAST_LANE_TAG: "true"})
    assert _submit(instance, "nfl_live_scoring", {FAST_LANE_TAG: "true"}) == dg.DagsterRunStatus.QUEUED
    assert _submit(instance, "dbt_build", {}) == dg.DagsterRunStatus.QUEUED
