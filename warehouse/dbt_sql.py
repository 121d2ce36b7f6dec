"""The dbt project from plain Python: its paths, `dbt parse`, and SQL rendered from its macros.

Live scoring runs the feature SQL of the marts without running dbt: `dbt compile --inline` renders the same
macro once (whenever the project changes) and the compiled SQL is cached under `dbt_project/target/`.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")  # the venv's dbt, whatever PATH says
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# each sport's whole feature path over raw-shaped rows in a relation of the live run (see macros/<sport>/):
# NFL feed plays in `live_plays`, NBA PlayByPlayV3 actions in `live_actions`
LIVE_FEATURES = {
    "nfl": "{{ nfl_wp_features_from_feed('live_plays', 'raw.nfl_games') }}",
    "nba": "{{ nba_wp_features_from_actions('live_actions', 'raw.nba_games') }}",
}


def newest_source_mtime() -> float:
    """When any file dbt reads last changed."""
    files = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        files += [p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in files if p.exists())


def _is_stale(path: Path) -> bool:
    return not path.exists() or path.stat().st_mtime < newest_source_mtime()


def _dbt(*args: str, capture: bool = False) -> str:
    # rendering needs no warehouse: an in-memory profile keeps dbt off the (possibly locked) file
    env = {**os.environ, "PLAYCAST_WAREHOUSE": ":memory:"}
    command = [DBT_EXECUTABLE, *args, "--quiet", "--project-dir", str(DBT_PROJECT_DIR)]
    done = subprocess.run(
        [*command, "--profiles-dir", str(DBT_PROJECT_DIR)],
        env=env,
        cwd=DBT_PROJECT_DIR,
        capture_output=capture,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"`dbt {' '.join(args[:2])}` failed: {(done.stdout or '')[-2000:]}{done.stderr or ''}"
        )
    return done.stdout or ""


@contextmanager
def _target_lock() -> Iterator[None]:
    """One process at a time prepares `target/` (the CLI, the daemon and the webserver may load at once)."""
    target = DBT_PROJECT_DIR / "target"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".playcast.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than the project files (a fresh clone)."""
    with _target_lock():
        if _is_stale(MANIFEST):
            _dbt("parse")
    return MANIFEST


def live_features_sql(sport: str) -> str:
    """The sport's feature macro rendered over its live relation (LIVE_FEATURES), compiled when stale."""
    path = DBT_PROJECT_DIR / "target" / f"live_{sport}_wp_features.sql"
    with _target_lock():
        if _is_stale(path):
            sql = _dbt("compile", "--inline", LIVE_FEATURES[sport], capture=True).strip()
            path.write_text(sql + "\n")
        return path.read_text()


def live_nfl_features_sql() -> str:
    """`nfl_wp_features_from_feed` rendered over `live_plays` and `raw.nfl_games`."""
    return live_features_sql("nfl")


def live_nba_features_sql() -> str:
    """`nba_wp_features_from_actions` rendered over `live_actions` and `raw.nba_games`."""
    return live_features_sql("nba")
