"""Ingest speed: one NFL season from the mirror next to DuckDB reading the same files, and five seasons + dbt;
one NBA season (~600k actions) next to DuckDB reading the same parquet and game log.

Usage: PLAYCAST_DATA_MIRROR=../shared/data .venv/bin/python -m benchmarks.ingest [--sport nba] [--season 2023]
Prints seconds per step and the playcast / raw-DuckDB ratio; BENCHMARKS.md has the write-up.
"""

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from ingest import nba
from ingest.mirror import mirror_root
from ingest.nfl_game_feed import load_game_feed
from ingest.nflverse import load_games, load_pbp, mirror_seasons
from tests.pipeline import build_marts, materialize_nba_seasons, materialize_seasons
from warehouse import connect, replace_partition


def timed(label: str, fn) -> float:
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {seconds:7.2f} s")
    return seconds


def raw_duckdb(mirror: Path, season: int, path: Path) -> None:
    """What DuckDB alone does with the same files: read them into tables, the game JSON split into plays."""
    nfl = mirror / "nfl"
    con = duckdb.connect(str(path))
    con.execute(
        f"create table pbp as select * from read_parquet('{nfl}/nflverse_pbp_subset/pbp_{season}.parquet')"
    )
    con.execute(f"create table games as select * from read_csv('{nfl}/games.csv') where season = {season}")
    con.execute(  # one row per play, the play kept as JSON: DuckDB's share of what the feed loader does
        f"create table feed as select unnest(json_extract(json, '$.driveChart.plays[*]')) as play "
        f"from read_json_objects('{nfl}/shield_raw/{season}/*.json.gz', maximum_object_size = 100000000)"
    )
    con.close()


def playcast_loaders(mirror: Path, season: int, path: Path) -> None:
    """playcast's loaders and the atomic partition write, without Dagster."""
    with connect(path) as con:
        replace_partition(con, "raw.nfl_games", load_games(season, mirror).rows, season=season)
        replace_partition(con, "raw.nfl_pbp", load_pbp(season, mirror).rows, season=season)
        replace_partition(con, "raw.nfl_game_feed", load_game_feed(season, mirror, []).rows, season=season)


def raw_duckdb_nba(mirror: Path, season: str, path: Path) -> None:
    """DuckDB alone: the season's PlayByPlayV3 parquet and game log csv into tables."""
    con = duckdb.connect(str(path))
    con.execute(f"create table pbp as select * from read_parquet('{nba.pbp_candidates(mirror, season)[0]}')")
    con.execute(f"create table games as select * from read_csv('{nba.games_candidates(mirror, season)[0]}')")
    con.close()


def playcast_nba_loaders(mirror: Path, season: str, path: Path) -> None:
    """playcast's NBA loaders (typed, season-checked) and the atomic partition write, without Dagster."""
    with connect(path) as con:
        replace_partition(con, "raw.nba_games", nba.load_games(season, mirror).rows, season=season)
        replace_partition(con, "raw.nba_pbp", nba.load_pbp(season, mirror).rows, season=season)


def bench_nba(mirror: Path, season: str, tmp: Path) -> None:
    print(f"One NBA season ({season}) from {mirror}:")
    raw = timed(
        "DuckDB alone: parquet + game log csv into tables",
        lambda: raw_duckdb_nba(mirror, season, tmp / "r.db"),
    )
    plain = timed(
        "playcast loaders + partition write (no Dagster)",
        lambda: playcast_nba_loaders(mirror, season, tmp / "p.db"),
    )
    dagster = timed(
        "playcast through Dagster (2 raw assets + checks)",
        lambda: materialize_nba_seasons([season], tmp / "dagster_nba.duckdb", mirror),
    )
    print(
        f"  ratio to DuckDB alone: {plain / raw:.2f}x plain, {dagster / raw:.2f}x through Dagster (target 3x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sport", choices=["nfl", "nba", "all"], default="all")
    parser.add_argument("--season", type=int, default=2023)
    parser.add_argument("--nba-season", default="2024-25")
    args = parser.parse_args()
    mirror = mirror_root()
    if mirror is None:
        raise SystemExit("set PLAYCAST_DATA_MIRROR to the data folder")
    if args.sport in ("nba", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            bench_nba(mirror, args.nba_season, Path(tmp))
    if args.sport == "nba":
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"One season ({args.season}) from {mirror}:")
        raw = timed(
            "DuckDB alone: parquet + csv + game JSON into tables",
            lambda: raw_duckdb(mirror, args.season, tmp / "raw.duckdb"),
        )
        plain = timed(
            "playcast loaders + partition write (no Dagster)",
            lambda: playcast_loaders(mirror, args.season, tmp / "plain.duckdb"),
        )
        dagster = timed(
            "playcast through Dagster (materialize 3 raw assets + checks)",
            lambda: materialize_seasons([args.season], tmp / "dagster.duckdb", mirror),
        )
        print(f"  ratio to DuckDB alone: {plain / raw:.2f}x plain, {dagster / raw:.2f}x through Dagster")

        seasons = mirror_seasons(mirror)
        print(f"All seasons {seasons} + dbt build, through Dagster:")
        warehouse = tmp / "full.duckdb"
        load = timed(
            f"materialize {len(seasons)} seasons", lambda: materialize_seasons(seasons, warehouse, mirror)
        )
        build = timed("dbt build (staging, game state, marts, tests)", lambda: build_marts(warehouse, mirror))
        print(f"  total {load + build:.1f} s")


if __name__ == "__main__":
    main()
