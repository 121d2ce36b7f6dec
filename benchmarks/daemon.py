"""CPU that an idle daemon's processes use: over workspace.yaml's modules (code servers that the daemon starts
and replaces every 60 s) and over playcast's code servers (orchestration/code_servers.py), in the same run.

Usage (after `make demo`): .venv/bin/python -m benchmarks.daemon [--seconds 200] [--settle 30]
Each mode gets a fresh Dagster instance on a copy of the warehouse and a local broker with nothing to score,
so what is measured is the daemon's own loop (sensor ticks, the run queue, the workspace refresh). CPU is read
from /proc (Linux) every 0.5 s for every process whose environment has that instance's DAGSTER_HOME.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestration.code_servers import REPO_ROOT, WORKSPACE
from stream.broker import LocalBroker
from tests.kafka_fixtures import free_port
from tests.pipeline import dagster_home, running_daemon
from warehouse import warehouse_path

TICK = os.sysconf("SC_CLK_TCK")
WINDOW_S = 10


def _cpu_seconds(home: str) -> dict[int, float]:
    """User + system CPU seconds of every live process started with DAGSTER_HOME=home."""
    marker = f"DAGSTER_HOME={home}".encode()
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker not in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                continue
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # gone, or not ours
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(pid)] = (int(fields[11]) + int(fields[12])) / TICK
    return found


def _measure(home: str, seconds: float, settle: float) -> list[float]:
    """CPU seconds per WINDOW_S window over `seconds`, after `settle` seconds; a process that exits between
    two samples (the daemon's replaced code servers) loses at most its last 0.5 s."""
    time.sleep(settle)
    seen = _cpu_seconds(home)
    start = dict(seen)
    windows, window_start, deadline = [], time.monotonic(), time.monotonic() + seconds
    total_before = 0.0
    while time.monotonic() < deadline:
        time.sleep(0.5)
        seen.update(_cpu_seconds(home))
        if time.monotonic() - window_start >= WINDOW_S:
            total = sum(cpu - start.get(pid, 0.0) for pid, cpu in seen.items())
            windows.append(total - total_before)
            total_before, window_start = total, time.monotonic()
    return windows


@contextmanager
def _managed_daemon(env: dict) -> Iterator[None]:
    """`dagster-daemon run` over workspace.yaml's modules: it starts (and every 60 s replaces) its servers."""
    daemon = subprocess.Popen(
        [Path(sys.executable).parent / "dagster-daemon", "run", "-w", str(WORKSPACE)],
        env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


MODES = {
    "daemon over workspace.yaml (its own code servers)": _managed_daemon,
    "daemon over playcast's code servers": running_daemon,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=200)
    parser.add_argument("--settle", type=float, default=30, help="seconds after the start not counted")
    args = parser.parse_args()
    broker = LocalBroker(f"127.0.0.1:{free_port()}")
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp, broker:
        print(f"Idle daemon, {args.seconds:.0f} s after {args.settle:.0f} s of start-up; its processes used:")
        for number, (name, daemon) in enumerate(MODES.items()):
            root = Path(tmp) / f"mode_{number}"
            home = dagster_home(root)
            shutil.copy(warehouse_path(), root / "playcast.duckdb")
            os.environ["DAGSTER_HOME"] = str(home)
            env = {**os.environ, "PLAYCAST_WAREHOUSE": str(root / "playcast.duckdb"),
                   "PLAYCAST_KAFKA_BOOTSTRAP": broker.bootstrap,
                   "PLAYCAST_MODEL_STORE": str(root / "store")}  # fmt: skip
            with daemon(env):
                windows = _measure(str(home), args.seconds, args.settle)
            total = sum(windows)
            print(f"  {name:<52} {total:6.1f} CPU s = {total / (len(windows) * WINDOW_S):.2f} cores; "
                  f"busiest {WINDOW_S} s: {max(windows):.1f} CPU s, quietest {min(windows):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
