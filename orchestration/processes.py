"""The long-running processes playcast starts (code servers, the daemon, the webserver, the broker): each in
its own session and process group, stopped group by group, and on Linux stopped as well when the process
that started it dies, even by SIGKILL or the out-of-memory killer, so that no orphaned daemon goes on
launching runs and no orphaned server keeps its port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def dies_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen (None off Linux): the child gets `signum` when the thread that
    started it exits, and starts with the default actions of SIGINT, SIGTERM and `signum`, none blocked,
    even if this process ignores or blocks them (an ignored or blocked signal stays so across exec; `nohup`
    and background jobs of scripts ignore SIGINT): Dagster's processes handle SIGTERM as they handle SIGINT,
    so they would otherwise ignore both."""
    if not sys.platform.startswith("linux"):
        return None

    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        import ctypes

        stopping = {signal.SIGINT, signal.SIGTERM, signum}
        for each in stopping:
            signal.signal(each, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stopping)
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(1, signum)  # PR_SET_PDEATHSIG

    return preexec


def start_process(command: Sequence[str | Path], **popen: Any) -> subprocess.Popen:
    """`command` in a new session (a terminal's Ctrl-C reaches only us; `stop_processes` stops its group),
    sent SIGTERM if this process dies (`dies_with_parent`). Call it from a thread that outlives the child."""
    return subprocess.Popen(
        [str(part) for part in command], start_new_session=True, preexec_fn=dies_with_parent(), **popen
    )


def stop_processes(processes: list[subprocess.Popen], timeout_s: float = 15) -> None:
    """SIGTERM each process's group, wait up to `timeout_s` in all, SIGKILL what is left."""
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
    for process in processes:  # children a graceful shutdown left behind
        _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
