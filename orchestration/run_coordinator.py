"""Dagster's run queue, with a fast lane for live micro-batches.

The queue daemon looks for queued runs once a second (`dequeue_interval_seconds`, whole seconds only) and
sleeps in half-second steps after each look, so a queued run waited 0.3-1.2 s before its launch began: the
largest fixed part of a micro-batch's latency after the sensor's tick. A run tagged `FAST_LANE_TAG` is
launched as soon as it is submitted (in the sensor's tick, as Dagster's non-queuing coordinator does) when no
other run of its job is queued or in progress and fewer than `max_concurrent_runs` runs are in progress; any
other run, and a live run that finds its job busy, goes through the queue as before. The `warehouse` pool is
still claimed by the run's step, so a fast-lane run that finds the warehouse taken waits there
(orchestration/instance_storage.py). One live run per job in the fast lane bounds what a slow warehouse can
pile up: the rest wait in the queue, as rows, not as processes.
"""

from __future__ import annotations

from dagster import DagsterRunStatus, RunsFilter
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, NOT_FINISHED_STATUSES, DagsterRun

FAST_LANE_TAG = "playcast/fast_lane"


class FastLaneRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator that launches a run tagged `FAST_LANE_TAG` at submission when its lane is free."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if run.status != DagsterRunStatus.NOT_STARTED or FAST_LANE_TAG not in run.tags or not self._free(run):
            return super().submit_run(context)
        self._instance.launch_run(run.run_id, context.workspace)
        return self._instance.get_run_by_id(run.run_id) or run

    def _free(self, run: DagsterRun) -> bool:
        """No other run of the job is waiting or running, and the instance is below its run limit."""
        others = self._instance.get_run_ids(RunsFilter(job_name=run.job_name, statuses=NOT_FINISHED_STATUSES))
        if set(others) - {run.run_id}:
            return False
        limit = self._instance.get_concurrency_config().run_queue_config.max_concurrent_runs
        return (
            limit < 0 or self._instance.get_runs_count(RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES)) < limit
        )
