"""Opening the DuckDB file: one writer at a time, readers wait politely for it."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WAREHOUSE = REPO_ROOT / "warehouse" / "playcast.duckdb"

log = logging.getLogger(__name__)


class WarehouseBusyError(RuntimeError):
    """Another process held the warehouse file's lock for longer than we were willing to wait."""


def warehouse_path() -> Path:
    """The warehouse file: `PLAYCAST_WAREHOUSE`, else `warehouse/playcast.duckdb` in the repo."""
    return Path(os.environ.get("PLAYCAST_WAREHOUSE") or DEFAULT_WAREHOUSE).expanduser().resolve()


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text


@contextmanager
def connect(
    path: str | os.PathLike | None = None,
    *,
    read_only: bool = False,
    wait_seconds: float = 30.0,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, retrying while another process holds the file, and close it at once after use.

    DuckDB lets one process write a file at a time; a read-only open also fails while a writer holds it.
    Keeping connections short lets readers and writers take turns.
    """
    target = Path(path).resolve() if path else warehouse_path()
    if read_only and not target.exists():
        raise FileNotFoundError(f"No warehouse at {target}: run `make demo` or materialize the assets first.")
    target.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.1
    while True:
        try:
            con = duckdb.connect(str(target), read_only=read_only)
            break
        except duckdb.IOException as error:
            if not _is_lock_conflict(error):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"The warehouse {target} is locked by another process (a running materialization?); "
                    f"gave up after {wait_seconds:.0f} s. Try again when it finishes."
                ) from error
            log.info("warehouse %s is busy; retrying in %.1f s", target, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        yield con
    finally:
        con.close()
