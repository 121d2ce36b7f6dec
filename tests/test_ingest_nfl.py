"""NFL seasons through Dagster into a real DuckDB file, then dbt: counts, checks, idempotence, labels."""

import os
import subprocess
import sys
import time

import duckdb
import pyarrow.parquet as pq

from tests.pipeline import TEST_SEASONS, build_marts, materialize_seasons, query


def test_raw_row_counts_equal_the_source_files(nfl_build, data_mirror):
    nfl = data_mirror / "nfl"
    for season in TEST_SEASONS:
        pbp_rows = pq.ParquetFile(nfl / "nflverse_pbp_subset" / f"pbp_{season}.parquet").metadata.num_rows
        feed_plays = pq.ParquetFile(nfl / f"shield_plays_{season}.parquet").metadata.num_rows
        games = duckdb.sql(f"select count(*) from read_csv('{nfl / 'games.csv'}') where season = {season}")
        assert query(nfl_build.warehouse, "select count(*) from raw.nfl_pbp where season = ?", [season]) == [
            (pbp_rows,)
        ]
        assert query(
            nfl_build.warehouse, "select count(*) from raw.nfl_game_feed where season = ?", [season]
        ) == [(feed_plays,)]
        assert query(
            nfl_build.warehouse, "select count(*) from raw.nfl_games where season = ?", [season]
        ) == (games.fetchall())


def test_every_asset_check_passes(nfl_build):
    evaluations = [e for run in nfl_build.ingest_runs for e in run.get_asset_check_evaluations()]
    assert len(evaluations) == 6 * len(TEST_SEASONS)
    failed = [(e.asset_key.to_user_string(), e.check_name, e.metadata) for e in evaluations if not e.passed]
    assert failed == []


def test_materialization_metadata_names_rows_games_and_source(nfl_build, data_mirror):
    events = nfl_build.ingest_runs[0].get_asset_materialization_events()
    metadata = {e.asset_key.to_user_string(): e.materialization.metadata for e in events}
    pbp = metadata["raw/nfl_pbp"]
    assert pbp["dagster/row_count"].value > 40_000
    assert pbp["games"].value == 269
    assert pbp["source"].value == str(data_mirror / "nfl" / "nflverse_pbp_subset" / "pbp_2020.parquet")
    assert "| game_id" in pbp["preview"].value


def test_dbt_build_passes_its_tests(nfl_build):
    assert nfl_build.dbt_run.success
    dbt_checks = nfl_build.dbt_run.get_asset_check_evaluations()
    assert len(dbt_checks) >= 10
    assert [e.check_name for e in dbt_checks if not e.passed] == []
    built = {e.asset_key.to_user_string() for e in nfl_build.dbt_run.get_asset_materialization_events()}
    assert {
        "staging/stg_nfl__game_feed",
        "intermediate/int_nfl__game_state",
        "marts/nfl_wp_features",
    } <= built


def test_mart_has_one_row_per_play_and_labels_agree_with_games(nfl_warehouse):
    [(plays, mart_rows, distinct_keys)] = query(
        nfl_warehouse,
        """select (select count(*) from raw.nfl_game_feed f
                   where not play_deleted and game_id in (select game_id from raw.nfl_games)),
                  count(*), count(distinct (game_id, play_id)) from marts.nfl_wp_features""",
    )
    assert mart_rows == plays == distinct_keys
    [(disagreements, games)] = query(
        nfl_warehouse,
        """select count(*) filter (where f.home_final_score <> g.home_score
                                     or f.away_final_score <> g.away_score
                                     or f.home_win <> case when g.result > 0 then 1 when g.result < 0 then 0
                                                           else 0.5 end),
                  count(distinct f.game_id)
           from marts.nfl_wp_features f join raw.nfl_games g using (game_id)""",
    )
    assert disagreements == 0
    assert games == 269 + 285


def test_rematerializing_a_season_is_idempotent(nfl_build, data_mirror):
    counts = "select season, count(*) from {} group by 1 order by 1"
    before = {t: query(nfl_build.warehouse, counts.format(t)) for t in ("raw.nfl_pbp", "raw.nfl_game_feed")}
    [run] = materialize_seasons([2021], nfl_build.warehouse, data_mirror)
    assert run.success
    after = {t: query(nfl_build.warehouse, counts.format(t)) for t in ("raw.nfl_pbp", "raw.nfl_game_feed")}
    assert after == before
    assert build_marts(nfl_build.warehouse, data_mirror).success


def test_playcast_sql_answers_per_season(nfl_warehouse):
    env = {**os.environ, "PLAYCAST_WAREHOUSE": str(nfl_warehouse)}
    query_text = "select season, count(*) as plays from marts.nfl_wp_features group by 1 order by 1"
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "sql", query_text],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["season", "plays"]
    assert [line.split()[0] for line in lines[2:4]] == ["2020", "2021"]
    assert lines[-1] == "(2 rows)"


def test_playcast_sql_reports_bad_sql_clearly(nfl_warehouse):
    env = {**os.environ, "PLAYCAST_WAREHOUSE": str(nfl_warehouse)}
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "sql", "select nope from marts.nfl_wp_features"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "nope" in done.stderr and "Traceback" not in done.stderr


def test_playcast_sql_gives_up_clearly_while_a_writer_holds_the_file(tmp_path):
    warehouse = tmp_path / "busy.duckdb"
    writer = duckdb.connect(str(warehouse))  # this process holds the write lock
    try:
        env = {**os.environ, "PLAYCAST_WAREHOUSE": str(warehouse)}
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "sql", "select 1", "--wait", "2"],
            env=env,
            capture_output=True,
            text=True,
        )
        waited = time.monotonic() - started
    finally:
        writer.close()
    assert done.returncode == 2
    assert "locked by another process" in done.stderr and str(warehouse) in done.stderr
    assert waited >= 2
