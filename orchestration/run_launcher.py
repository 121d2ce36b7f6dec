"""A run launcher that forks each run from a warm process instead of starting Python afresh.

Dagster's default launcher asks the code server to spawn a new interpreter per run, which imports dagster,
pandas, xgboost, ... again: ~4 s of a live micro-batch's latency on this machine. This launcher keeps a
`multiprocessing` forkserver that has imported the heavy third-party libraries once (`preload_modules`) and
forks every run from it. playcast's own modules (but this one, the worker's entry point) are not preloaded,
so each run imports the code as it is on disk, as a spawned run would; change a preloaded library and restart
the daemon. multiprocessing runs the launching process's main script again in each child (as `__mp_main__`):
preload what that script imports (the daemon's `dagster._daemon.cli`), or every run imports it anew.

Runs execute as `dagster api execute_run` executes them (same instance, run record and events), through its
body in dagster's private `_cli.api` (dagster is pinned to 1.13.x). The run's process id is a run tag:
terminating a run interrupts that process, and run monitoring fails a run whose process is gone.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import _check as check
from dagster._cli.api import _execute_run_command_body
from dagster._cli.utils import get_instance_for_cli
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClass, ConfigurableClassData, deserialize_value, serialize_value
from dagster._utils.interrupts import capture_interrupts

PID_TAG = "playcast/run_worker_pid"


def _execute_run(run_id: str, instance_ref: str) -> None:
    """The forked run worker: `dagster api execute_run`'s body for one run.

    It first moves the ~300,000 objects inherited from the forkserver's imports out of the garbage
    collector's reach (`gc.freeze`, as Python's docs advise after a fork): otherwise every full collection
    walks them all (writing to each, so the forked process also copies the pages they sit on). In a fresh
    process reading and scoring an NFL season, collections took 0.80-0.81 s without it, 0.14-0.19 s with it
    (BENCHMARKS.md). A run's process is short-lived: what becomes garbage among the frozen objects stays."""
    gc.freeze()
    with capture_interrupts(), get_instance_for_cli(instance_ref=deserialize_value(instance_ref)) as instance:
        _execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=False)


class ForkserverRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run in a process forked from a server that has preloaded `preload_modules`."""

    def __init__(self, preload_modules: Sequence[str] = (), inst_data: ConfigurableClassData | None = None):
        self._inst_data = inst_data
        self._preload_modules = list(preload_modules)
        self._context: Any = None  # the forkserver starts with the first launch, in the launching process
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {"preload_modules": [str]}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> ForkserverRunLauncher:
        return cls(preload_modules=config_value.get("preload_modules", ()), inst_data=inst_data)

    def launch_run(self, context: LaunchRunContext) -> None:
        if self._context is None:
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload([*self._preload_modules, __name__])  # and the worker's code
        multiprocessing.active_children()  # reaps finished workers (and closes their pipes)
        run = context.dagster_run
        worker = self._context.Process(
            target=_execute_run, args=(run.run_id, serialize_value(self._instance.get_ref())), daemon=False
        )
        worker.start()
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(worker.pid)})

    def terminate(self, run_id: str) -> bool:
        """Mark the run canceling and interrupt its process, which then stops the run as Dagster does."""
        check.str_param(run_id, "run_id")
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or PID_TAG not in run.tags:
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(run.tags[PID_TAG]), signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """Whether the run's process is alive: run monitoring fails the run of a worker that died."""
        pid = run.tags.get(PID_TAG)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, "no run worker process recorded")
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING)
