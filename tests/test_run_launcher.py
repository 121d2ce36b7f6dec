"""The forkserver run launcher runs a job as Dagster's own launcher would, terminating a run stops it, and
run monitoring can tell when a run's worker died."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher import WorkerStatus

from orchestration.run_launcher import PID_TAG

JOBS = """
import os
import time
from pathlib import Path

import dagster as dg


@dg.op(config_schema={"seconds": float, "marker": str})
def work(context) -> None:
    Path(context.op_config["marker"]).write_text(str(os.getpid()))
    time.sleep(context.op_config["seconds"])


@dg.job(executor_def=dg.in_process_executor)  # the op runs in the run worker itself
def worker() -> None:
    work()
"""
INSTANCE = """
run_coordinator:  # `job launch` launches at once
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
run_launcher:
  module: orchestration.run_launcher
  class: ForkserverRunLauncher
  config:
    preload_modules: [dagster]
telemetry:
  enabled: false
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE)
    (tmp_path / "jobs.py").write_text(JOBS)
    return home


def launch(home: Path, seconds: float) -> tuple[subprocess.Popen, Path]:
    marker = home.parent / f"ran-{seconds}"
    config = {"ops": {"work": {"config": {"seconds": seconds, "marker": str(marker)}}}}
    command = [Path(sys.executable).parent / "dagster", "job", "launch", "-f", str(home.parent / "jobs.py"),
               "-j", "worker", "--config-json", json.dumps(config)]  # fmt: skip
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    return subprocess.Popen(command, env=env, cwd=home.parent), marker


def only_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, timeout: float = 120):
    """The instance's one run, once it has `status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.get_runs()
        if runs and runs[0].status == status:
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"no run reached {status} in {timeout} s: {[r.status for r in instance.get_runs()]}")


def test_a_launched_run_executes_in_the_forked_worker_named_by_its_tag(home: Path):
    cli, marker = launch(home, seconds=0)
    cli.wait(timeout=120)
    run = only_run(dg.DagsterInstance.from_config(str(home)), dg.DagsterRunStatus.SUCCESS)
    assert int(marker.read_text()) == int(run.tags[PID_TAG]) != cli.pid


def sleeping_run(home: Path) -> tuple[subprocess.Popen, dg.DagsterInstance, dg.DagsterRun]:
    """A launched run whose op sleeps for five minutes, once the op has started."""
    cli, marker = launch(home, seconds=300)
    try:
        instance = dg.DagsterInstance.from_config(str(home))
        run = only_run(instance, dg.DagsterRunStatus.STARTED)
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    except BaseException:
        cli.kill()  # the test fails here: leave no launching process behind
        raise
    return cli, instance, run


def test_terminating_a_run_interrupts_its_worker_and_cancels_it(home: Path):
    cli, instance, run = sleeping_run(home)
    try:
        assert instance.run_launcher.terminate(run.run_id)
        assert only_run(instance, dg.DagsterRunStatus.CANCELED, timeout=60).run_id == run.run_id
        assert cli.wait(timeout=60) == 0  # the launching process waited for its worker, which has ended
        assert not instance.run_launcher.terminate(run.run_id)  # a finished run is not terminated again
    finally:
        cli.kill()


def test_run_monitoring_sees_a_dead_worker(home: Path):
    cli, instance, run = sleeping_run(home)
    try:
        assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
        os.kill(int(run.tags[PID_TAG]), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING:
            assert time.monotonic() < deadline, "the killed worker still looks alive"
            time.sleep(0.2)
        assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
    finally:
        cli.kill()
