"""Running the real pipeline from tests: Dagster materializations with resources on a temp warehouse."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

TEST_SEASONS = (2020, 2021)  # the seasons nflverse_full_partial covers, so game state can be checked
NBA_TEST_SEASONS = ("2023-24", "2024-25")


def resources_for(warehouse: Path, mirror: Path, dbt: bool = False) -> dict:
    from orchestration.resources import SourceData, Warehouse

    resources = {"warehouse": Warehouse(path=str(warehouse)), "source_data": SourceData(mirror=str(mirror))}
    if dbt:
        from assets.dbt import dbt_resource

        resources["dbt"] = dbt_resource()
    return resources


def materialize_seasons(seasons, warehouse: Path, mirror: Path) -> list[dg.ExecuteInProcessResult]:
    """Materialize NFL raw season partitions through Dagster, one run per season."""
    from assets.ingest_nfl import nfl_raw_assets

    return [
        dg.materialize(nfl_raw_assets, partition_key=str(s), resources=resources_for(warehouse, mirror))
        for s in seasons
    ]


def materialize_nba_seasons(seasons, warehouse: Path, mirror: Path) -> list[dg.ExecuteInProcessResult]:
    """Materialize NBA raw season partitions ('2024-25') through Dagster, one run per season."""
    from assets.ingest_nba import nba_raw_assets

    return [
        dg.materialize(nba_raw_assets, partition_key=s, resources=resources_for(warehouse, mirror))
        for s in seasons
    ]


def build_marts(warehouse: Path, mirror: Path, sport: str = "nfl") -> dg.ExecuteInProcessResult:
    """Run one sport's dbt assets (`dbt build --select tag:<sport>`) through Dagster."""
    from assets import dbt
    from assets.ingest_nba import nba_raw_assets
    from assets.ingest_nfl import nfl_raw_assets

    models = getattr(dbt, f"{sport}_dbt_models")
    raw_assets = {"nfl": nfl_raw_assets, "nba": nba_raw_assets}[sport]
    return dg.materialize(
        [*raw_assets, models],
        selection=dbt.features_selection(models),
        resources=resources_for(warehouse, mirror, dbt=True),
    )


def dagster_home(root: Path) -> Path:
    """A fresh Dagster instance folder with playcast's instance settings."""
    import shutil

    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(
        Path(__file__).resolve().parent.parent / "orchestration" / "dagster.yaml", home / "dagster.yaml"
    )
    return home


@contextmanager
def running_daemon(env: dict) -> Iterator[Path]:
    """`dagster-daemon run` in `env` over a code server per location of the repo's workspace, as `playcast ui`
    runs it (orchestration/code_servers.py); yields the servers' workspace (for the `dagster` CLI). On exit
    the daemon is terminated (its runs go on, as after a daemon restart), then the servers."""
    import subprocess
    import sys

    from orchestration.code_servers import REPO_ROOT, code_servers

    with code_servers(env) as workspace:
        daemon = subprocess.Popen(
            [Path(sys.executable).parent / "dagster-daemon", "run", "-w", str(workspace)],
            env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield workspace
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """A read-only query on a warehouse file, the connection closed at once."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def step_intervals(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float, str]]:
    """(start, end, '<run>:<step key>') of every finished step of a run, from its event log."""
    started: dict[str, float] = {}
    intervals = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            intervals.append((started[event.step_key], record.timestamp, f"{run_id[:8]}:{event.step_key}"))
    return intervals
