"""Processes playcast starts stop with it, even when it is killed, and answer SIGINT though it ignores it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# a parent that ignores SIGINT (as under `nohup` or `&` in a script) and ignores and blocks SIGTERM, starts a
# child that reports how it handles SIGINT, prints the child's pid and waits to be killed
PARENT = """
import signal, sys, time
from orchestration.processes import start_process
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
child = start_process([sys.executable, "-c",
    "import signal, time; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True); "
    "time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_started_process_answers_sigint_and_ends_when_its_starter_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    child = None
    try:
        lines = {parent.stdout.readline().strip() for _ in range(2)}  # the two processes' lines, any order
        [pid] = [line for line in lines if line.isdigit()]
        child = int(pid)
        assert lines - {pid} == {"True"}  # the child handles SIGINT, not ignores it as its starter does
        assert _alive(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        signals = [line for line in Path(f"/proc/{child}/status").read_text().splitlines() if "Sig" in line]
        assert not _alive(child), f"the child outlived the process that started it: {signals}"
    finally:
        parent.kill()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)
