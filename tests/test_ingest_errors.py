"""Bad input gives a clear error naming the file or column, and leaves the warehouse as it was."""

import gzip
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from assets.ingest_nfl import nfl_game_feed_plays, nfl_games, nfl_pbp
from ingest.errors import SourceError
from tests.pipeline import resources_for

SEASON = "2021"


def fingerprint(warehouse: Path) -> list[tuple]:
    """Row count and a content hash of every raw table."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
            ).fetchall()
        ]
        return [(t, *con.execute(f"select count(*), sum(hash(r)) from raw.{t} r").fetchone()) for t in tables]
    finally:
        con.close()


def link_mirror(root: Path, data_mirror: Path) -> Path:
    """A mirror of one season (2021) laid out like the shared data, made of links to the real files."""
    (root / "nfl" / "nflverse_pbp_subset").mkdir(parents=True)
    (root / "nfl" / "shield_raw" / SEASON).mkdir(parents=True)
    real = data_mirror / "nfl"
    (root / "nfl" / "games.csv").symlink_to(real / "games.csv")
    (root / "nfl" / "nflverse_pbp_subset" / f"pbp_{SEASON}.parquet").symlink_to(
        real / "nflverse_pbp_subset" / f"pbp_{SEASON}.parquet"
    )
    for game in sorted((real / "shield_raw" / SEASON).glob("*.json.gz")):
        (root / "nfl" / "shield_raw" / SEASON / game.name).symlink_to(game)
    return root


@pytest.fixture
def mirror(tmp_path, data_mirror) -> Path:
    """The one-season mirror, for a test to break."""
    return link_mirror(tmp_path / "mirror", data_mirror)


@pytest.fixture(scope="module")
def season_warehouse(tmp_path_factory, data_mirror) -> Path:
    """A warehouse holding season 2021 of every raw NFL table, loaded once for the module."""
    root = tmp_path_factory.mktemp("season")
    warehouse = root / "playcast.duckdb"
    result = dg.materialize(
        [nfl_games, nfl_pbp, nfl_game_feed_plays],
        partition_key=SEASON,
        resources=resources_for(warehouse, link_mirror(root / "mirror", data_mirror)),
    )
    assert result.success
    return warehouse


@pytest.fixture
def loaded_warehouse(tmp_path, season_warehouse) -> Path:
    """A test's own copy of it."""
    return Path(shutil.copy(season_warehouse, tmp_path / "playcast.duckdb"))


def materialize_failure(asset, warehouse: Path, mirror: Path, partition: str = SEASON) -> str:
    with pytest.raises(SourceError) as error:
        dg.materialize([asset], partition_key=partition, resources=resources_for(warehouse, mirror))
    return str(error.value)


def test_missing_required_column_is_named(loaded_warehouse, mirror):
    before = fingerprint(loaded_warehouse)
    target = mirror / "nfl" / "nflverse_pbp_subset" / f"pbp_{SEASON}.parquet"
    table = pq.read_table(target).drop_columns(["posteam", "ydstogo"])
    target.unlink()
    pq.write_table(table, target)
    message = materialize_failure(nfl_pbp, loaded_warehouse, mirror)
    assert str(target) in message and "posteam" in message and "ydstogo" in message
    assert fingerprint(loaded_warehouse) == before


def test_truncated_parquet_is_named(loaded_warehouse, mirror):
    before = fingerprint(loaded_warehouse)
    target = mirror / "nfl" / "nflverse_pbp_subset" / f"pbp_{SEASON}.parquet"
    head = target.read_bytes()[:50_000]
    target.unlink()
    target.write_bytes(head)
    message = materialize_failure(nfl_pbp, loaded_warehouse, mirror)
    assert str(target) in message and "parquet" in message
    assert fingerprint(loaded_warehouse) == before


def test_season_missing_from_the_mirror_says_where_it_looked(loaded_warehouse, mirror):
    before = fingerprint(loaded_warehouse)
    message = materialize_failure(nfl_pbp, loaded_warehouse, mirror, partition="2018")
    assert "season 2018" in message
    assert str(mirror / "nfl" / "nflverse_pbp_subset" / "pbp_2018.parquet") in message
    assert str(mirror / "nfl" / "play_by_play_2018.parquet") in message
    assert fingerprint(loaded_warehouse) == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"homeTeam": {"id": "x"}, "awayTeam": ', "not a readable game JSON file"),
        (b'{"homeTeam": {"id": "a"}, "awayTeam": {"id": "b"}}', "missing field 'driveChart'"),
        (
            b'{"homeTeam": {"id": "a"}, "awayTeam": {"id": "b"}, "driveChart": {"plays": [{"quarter": 1}]}}',
            "driveChart.plays[0]: missing field 'playId'",
        ),
    ],
)
def test_malformed_game_feed_is_named(loaded_warehouse, mirror, content, expected):
    before = fingerprint(loaded_warehouse)
    folder = mirror / "nfl" / "shield_raw" / SEASON
    broken = folder / "2021_10_BAL_MIA.json.gz"
    broken.unlink()
    broken.write_bytes(gzip.compress(content))
    message = materialize_failure(nfl_game_feed_plays, loaded_warehouse, mirror)
    assert str(broken) in message and expected in message
    assert fingerprint(loaded_warehouse) == before


def test_full_schema_file_keeps_every_column(tmp_path, mirror, data_mirror):
    """A full-schema nflverse file (here weeks 1-5 of 2021) loads with all 372 columns."""
    (mirror / "nfl" / f"play_by_play_{SEASON}.parquet").symlink_to(
        data_mirror / "nfl" / "nflverse_full_partial" / "play_by_play_2021_weeks01-05.parquet"
    )
    warehouse = tmp_path / "full.duckdb"
    result = dg.materialize(
        [nfl_games, nfl_pbp], partition_key=SEASON, resources=resources_for(warehouse, mirror)
    )
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == "nfl_pbp"]
    assert event.materialization.metadata["columns"].value == 372
    assert event.materialization.metadata["dagster/row_count"].value == 14174
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["unique_play_key"] is True
    assert checks["every_game_has_plays"] is False  # weeks 6+ are not in this file, and the check says so


def test_broken_game_file_unreadable_gzip(tmp_path):
    from ingest.nfl_game_feed import read_game_file

    path = tmp_path / "2021_01_X_Y.json.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(SourceError, match=r"2021_01_X_Y\.json\.gz"):
        read_game_file(path)
