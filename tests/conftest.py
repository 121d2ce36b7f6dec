"""Shared fixtures: the real data mirror, and a real warehouse built through Dagster and dbt."""

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from tests.kafka_fixtures import kafka_broker  # noqa: F401
from tests.pipeline import (
    NBA_TEST_SEASONS,
    TEST_SEASONS,
    build_marts,
    materialize_nba_seasons,
    materialize_seasons,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    """The data folder (`PLAYCAST_DATA_MIRROR`, else ../shared/data beside the repo)."""
    path = Path(os.environ.get("PLAYCAST_DATA_MIRROR") or REPO_ROOT.parent / "shared" / "data").resolve()
    if not (path / "nfl").is_dir():
        pytest.fail(f"No data mirror at {path}: set PLAYCAST_DATA_MIRROR to the shared data folder")
    return path


@dataclass
class NflBuild:
    warehouse: Path
    ingest_runs: list[dg.ExecuteInProcessResult]
    dbt_run: dg.ExecuteInProcessResult


@pytest.fixture(scope="session")
def nfl_build(tmp_path_factory, data_mirror) -> NflBuild:
    """Seasons 2020 and 2021 materialized through Dagster into a temp warehouse, then `dbt build`."""
    warehouse = tmp_path_factory.mktemp("nfl") / "playcast.duckdb"
    ingest_runs = materialize_seasons(TEST_SEASONS, warehouse, data_mirror)
    return NflBuild(warehouse, ingest_runs, build_marts(warehouse, data_mirror))


@pytest.fixture(scope="session")
def nfl_warehouse(nfl_build) -> Path:
    return nfl_build.warehouse


@pytest.fixture(scope="session")
def nba_raw_warehouse(tmp_path_factory, data_mirror) -> Path:
    """NBA seasons 2023-24 and 2024-25 of raw.nba_games and raw.nba_pbp, materialized through Dagster."""
    warehouse = tmp_path_factory.mktemp("nba") / "playcast.duckdb"
    for run in materialize_nba_seasons(NBA_TEST_SEASONS, warehouse, data_mirror):
        assert run.success
    return warehouse


@dataclass
class NbaBuild:
    warehouse: Path
    dbt_run: dg.ExecuteInProcessResult


@pytest.fixture(scope="session")
def nba_build(nba_raw_warehouse, data_mirror, tmp_path_factory) -> NbaBuild:
    """A copy of nba_raw_warehouse after the NBA `dbt build` (tag:nba) through Dagster."""
    import shutil

    warehouse = tmp_path_factory.mktemp("nba_marts") / "playcast.duckdb"
    shutil.copy(nba_raw_warehouse, warehouse)
    return NbaBuild(warehouse, build_marts(warehouse, data_mirror, sport="nba"))


@pytest.fixture(scope="session")
def nfl_candidates(nfl_warehouse) -> dict:
    """Every NFL model trained leave-one-season-out on the test seasons (not registered)."""
    import duckdb

    from models.features import mart_frame
    from models.pipeline import SPECS, train_candidate

    con = duckdb.connect(str(nfl_warehouse), read_only=True)
    try:
        frame = mart_frame(con)
    finally:
        con.close()
    return {
        name: train_candidate(spec, frame, log=lambda _: None)
        for name, spec in SPECS.items()
        if spec.sport == "nfl"
    }


@pytest.fixture(scope="session")
def scored_warehouse(nfl_warehouse, nfl_candidates, tmp_path_factory) -> Path:
    """A copy of the test warehouse whose registry holds a champion of every model."""
    import shutil

    import duckdb

    from models.registry import register

    root = tmp_path_factory.mktemp("scored")
    path = root / "playcast.duckdb"
    shutil.copy(nfl_warehouse, path)
    con = duckdb.connect(str(path))
    try:
        for candidate in nfl_candidates.values():
            register(con, candidate, root / "model_store")
    finally:
        con.close()
    return path
