"""NBA ingest: real season materializations through Dagster, their checks, errors on bad mirror files."""

import datetime as dt
import gzip
import re
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ingest import nba
from ingest.errors import SourceError
from orchestration.cli import parse_seasons
from orchestration.partitions import nba_seasons
from tests.pipeline import materialize_nba_seasons, query

PBP_TYPES = {
    "gameId": "VARCHAR", "actionNumber": "BIGINT", "clock": "VARCHAR", "period": "BIGINT", "teamId": "BIGINT",
    "teamTricode": "VARCHAR", "personId": "BIGINT", "playerName": "VARCHAR", "playerNameI": "VARCHAR",
    "xLegacy": "BIGINT", "yLegacy": "BIGINT", "shotDistance": "BIGINT", "shotResult": "VARCHAR",
    "isFieldGoal": "BIGINT", "scoreHome": "DOUBLE", "scoreAway": "DOUBLE", "pointsTotal": "BIGINT",
    "location": "VARCHAR", "description": "VARCHAR", "actionType": "VARCHAR", "subType": "VARCHAR",
    "videoAvailable": "BIGINT", "shotValue": "BIGINT", "actionId": "BIGINT", "season": "VARCHAR",
}  # fmt: skip


def checks(run: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, int]]:
    return {
        e.check_name: (e.passed, e.metadata["violations"].value) for e in run.get_asset_check_evaluations()
    }


def small_mirror(root: Path, mirror: Path, season: str, games: int, pts_delta: int = 0) -> Path:
    """A mirror with the first `games` games of a real season; `pts_delta` added to the first row's PTS."""
    tag = season.replace("-", "_")
    (root / "nba").mkdir(parents=True)
    pbp = pq.read_table(mirror / "nba" / f"playbyplayv3_{tag}.parquet")
    game_ids = pc.unique(pbp["gameId"]).to_pylist()[:games]
    pq.write_table(pbp.filter(pc.is_in(pbp["gameId"], pc.unique(game_ids))), root / "nba" / pbp_name(season))
    ids = ", ".join(f"'{g}'" for g in game_ids)
    con = duckdb.connect()
    con.execute(
        f"copy (select * replace (PTS + if(row_number() over (order by GAME_ID) = 1, {pts_delta}, 0) "
        f"as PTS) from read_csv('{mirror}/nba/leaguegamelog_{tag}.csv.gz') where GAME_ID in ({ids}) "
        f"order by GAME_ID, MATCHUP) to '{root}/nba/leaguegamelog_{tag}.csv.gz' (header, compression gzip)"
    )
    con.close()
    return root


def pbp_name(season: str) -> str:
    return f"playbyplayv3_{season.replace('-', '_')}.parquet"


def test_seasons_are_partitions_from_1996_97_to_the_current_one():
    keys = nba_seasons.get_partition_keys()
    assert keys[0] == "1996-97" and "1999-00" in keys and "2024-25" in keys
    assert keys[-1] == nba.season_key(nba.current_nba_season())
    assert nba.current_nba_season(dt.date(2025, 9, 30)) == 2024
    assert nba.current_nba_season(dt.date(2025, 10, 1)) == 2025
    assert parse_seasons("2023-24, 2024-25", "nba") == ["2023-24", "2024-25"]
    assert parse_seasons("2019-2021") == [2019, 2020, 2021]
    with pytest.raises(ValueError, match="'2024-26'"):
        parse_seasons("2023-24,2024-26", "nba")


def test_raw_tables_hold_both_seasons_with_the_contract_types(nba_raw_warehouse, data_mirror):
    types = {r[0]: r[1] for r in query(nba_raw_warehouse, "describe raw.nba_pbp")}
    assert types == PBP_TYPES
    games = {r[0]: r[1] for r in query(nba_raw_warehouse, "describe raw.nba_games")}
    assert games["GAME_ID"] == "VARCHAR" and games["GAME_DATE"] == "DATE" and games["PTS"] == "BIGINT"
    assert len(games) == 30 and games["season"] == "VARCHAR"
    for season in ("2023-24", "2024-25"):
        expected = pq.read_metadata(data_mirror / "nba" / pbp_name(season)).num_rows
        [(rows, games_with_actions)] = query(
            nba_raw_warehouse,
            "select count(*), count(distinct gameId) from raw.nba_pbp where season = ?",
            [season],
        )
        assert (rows, games_with_actions) == (expected, 1230)
        [(log_rows,)] = query(
            nba_raw_warehouse, "select count(*) from raw.nba_games where season = ?", [season]
        )
        assert log_rows == 2460
    # leading zeros kept, and the season matches the game id
    assert query(nba_raw_warehouse, "select count(*) from raw.nba_pbp where gameId not like '00223%' "
                 "and season = '2023-24'") == [(0,)]  # fmt: skip


def test_checks_pass_and_rematerializing_replaces_the_season(tmp_path, data_mirror):
    warehouse = tmp_path / "playcast.duckdb"
    for _ in range(2):
        [run] = materialize_nba_seasons(["2024-25"], warehouse, data_mirror)
        results = checks(run)
        assert {name for name, (passed, _) in results.items() if not passed} == set()
        assert results["neutral_site_games"] == (True, 5)  # Mexico City, Paris, NBA Cup in Las Vegas
        assert results["repeated_action_numbers"][1] > 0  # reported, not enforced
        assert query(warehouse, "select count(*), count(distinct (gameId, actionId)) from raw.nba_pbp") == [
            (606536, 606536)
        ]
        assert query(warehouse, "select count(*) from raw.nba_games") == [(2460,)]


def test_score_check_fails_on_a_tampered_game_log(tmp_path, data_mirror):
    mirror = small_mirror(tmp_path / "mirror", data_mirror, "2024-25", games=3, pts_delta=1)
    [run] = materialize_nba_seasons(["2024-25"], tmp_path / "w.duckdb", mirror)
    results = checks(run)
    assert results["final_score_matches_game_log"] == (False, 1)
    assert results["every_game_has_actions"] == (True, 0) and results["unique_action_key"] == (True, 0)


def test_a_missing_season_lists_the_paths_looked_for(tmp_path):
    with pytest.raises(SourceError, match=r"playbyplayv3_2021_22\.parquet"):
        nba.load_pbp("2021-22", tmp_path)
    with pytest.raises(SourceError, match=r"leaguegamelog_2021_22\.csv\.gz\n.*leaguegamelog_2021_22\.csv"):
        nba.load_games("2021-22", tmp_path)


def test_a_truncated_parquet_is_named(tmp_path, data_mirror):
    (tmp_path / "nba").mkdir()
    path = tmp_path / "nba" / pbp_name("2024-25")
    path.write_bytes((data_mirror / "nba" / pbp_name("2024-25")).read_bytes()[:100_000])
    with pytest.raises(SourceError, match=re.escape(f"{path}: not a readable parquet file")):
        nba.load_pbp("2024-25", tmp_path)


def test_a_missing_column_is_named(tmp_path, data_mirror):
    mirror = small_mirror(tmp_path, data_mirror, "2024-25", games=1)
    path = mirror / "nba" / pbp_name("2024-25")
    pq.write_table(pq.read_table(path).drop_columns(["scoreHome"]), path)
    with pytest.raises(SourceError, match=re.escape(str(path)) + " lacks required column.*: scoreHome"):
        nba.load_pbp("2024-25", mirror)
    log = mirror / "nba" / "leaguegamelog_2024_25.csv.gz"
    lines = gzip.decompress(log.read_bytes()).decode().splitlines()
    log.write_bytes(gzip.compress("\n".join(line.rsplit(",", 1)[0] for line in lines).encode()))
    with pytest.raises(SourceError, match=r"lacks required column.*: VIDEO_AVAILABLE"):
        nba.load_games("2024-25", mirror)


def test_a_file_of_another_season_is_named(tmp_path, data_mirror):
    mirror = small_mirror(tmp_path, data_mirror, "2023-24", games=2)
    for old in (mirror / "nba").iterdir():
        old.rename(old.with_name(old.name.replace("2023_24", "2024_25")))
    with pytest.raises(SourceError, match=r"gameId holds games of season.* 2023-24, expected 2024-25"):
        nba.load_pbp("2024-25", mirror)
    with pytest.raises(SourceError, match=r"GAME_ID holds games of season.* 2023-24, expected 2024-25"):
        nba.load_games("2024-25", mirror)
