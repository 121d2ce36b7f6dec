"""The dbt NBA game state (marts.nba_wp_features, marts.nba_momentum) on hand-checked real games.

Fixture `nba_build` (tests/conftest.py): seasons 2023-24 and 2024-25 of raw.nba_pbp / raw.nba_games
materialized through Dagster, then `dbt build --select tag:nba` through Dagster.

Game 0022300001, CLE @ IND on 2023-11-03 (IND won 121-116), read in the mirror's
nba/playbyplayv3_2023_24.parquet:
  actionId 3    Turner 2' Cutting Dunk: the first points, 0-0 -> 2-0
  actionId 8    Mathurin 28' 3PT: 2-0 -> 5-0
  actionId 24   Turner Free Throw 1 of 2 (after CLE's shooting foul at 23): 8-5 -> 9-5; 25: 9-5 -> 10-5
  actionIds 408-429, 4th quarter: Strus's three at 408 puts CLE up 105-101; then IND scores 9 unanswered,
                Brown layup 416 (103-105), Hield three 419 (106-105, IND retakes the lead), Haliburton
                floater 422 (108-105), Turner jumper 427 (110-105), until Mitchell's free throw at 429
                (110-106): a 9-0 run from 416 to 427. Rows between (misses, rebounds, a steal, timeouts,
                substitutions) carry no score, so the forward-fill must hold it.
Game 0022400621, SAS vs IND in Paris (2025-01-25): both game-log MATCHUPs read '@'; PlayByPlayV3's location
  marks IND as home, and the log gives IND 110, SAS 140.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd
import pytest

from tests.pipeline import query

GAME = "0022300001"


@pytest.fixture(scope="module")
def warehouse(nba_build):
    assert nba_build.dbt_run.success
    return nba_build.warehouse


def action(warehouse, action_id: int, game: str = GAME) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        frame = con.execute(
            "select * from marts.nba_wp_features where game_id = ? and action_id = ?", [game, action_id]
        ).df()
    finally:
        con.close()
    assert len(frame) == 1
    return frame.iloc[0].to_dict()


def test_dbt_build_of_the_nba_tag_passes_its_tests_and_only_builds_nba(nba_build):
    result = nba_build.dbt_run
    assert result.success
    built = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert ("marts", "nba_wp_features") in built and ("marts", "nba_momentum") in built
    assert not any("nfl" in key[-1] for key in built)
    checks = result.get_asset_check_evaluations()
    assert len(checks) > 50
    # 0022301202, whose V3 score is wrong (dbt_project/tests/nba/assert_nba_final_score_...), warns
    failed = [(c.check_name, c.severity) for c in checks if not c.passed]
    assert failed == [("assert_nba_final_score_matches_games", dg.AssetCheckSeverity.WARN)]
    # source tests ran as checks of the raw assets, and the live path equals the mart
    names = {c.check_name for c in checks}
    assert any(c.asset_key.path == ["raw", "nba_pbp"] for c in checks)
    assert "assert_nba_live_path_matches_mart" in names
    assert "assert_nba_runs_are_unanswered" in names
    # every model's materialization has its row count, as the warehouse has it
    events = result.get_asset_materialization_events()
    counts = {
        tuple(m.asset_key.path): m.metadata["dagster/row_count"].value
        for m in (e.step_materialization_data.materialization for e in events)
    }
    assert set(counts) == built
    con = duckdb.connect(str(nba_build.warehouse), read_only=True)
    try:
        for (schema, table), count in counts.items():
            assert count == con.execute(f"select count(*) from {schema}.{table}").fetchone()[0] > 0
    finally:
        con.close()


def test_the_singular_dbt_tests_describe_their_checks():
    """The UI shows why a check warns (e.g. PlayByPlayV3's own wrong score in one game)."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    singular = [key for key in graph.asset_check_keys if key.name.startswith("assert_")]
    assert len(singular) == 8
    assert all(graph.get_check_spec(key).description for key in singular)
    [final] = [key for key in singular if key.name == "assert_nba_final_score_matches_games"]
    assert "0022301202" in graph.get_check_spec(final).description


@pytest.mark.parametrize(
    ("action_id", "before", "after"),
    [
        (2, (0, 0), (0, 0)),  # the jump ball: no score yet, V3 leaves it empty
        (3, (0, 0), (2, 0)),
        (8, (2, 0), (5, 0)),
        (24, (8, 5), (9, 5)),
        (25, (9, 5), (10, 5)),
        (412, (101, 105), (101, 105)),  # a timeout between scores: forward-filled
        (419, (103, 105), (106, 105)),
    ],
)
def test_forward_filled_score_before_and_after_actions(warehouse, action_id, before, after):
    row = action(warehouse, action_id)
    assert (row["home_team"], row["away_team"]) == ("IND", "CLE")
    assert (row["home_score"], row["away_score"]) == before
    assert (row["home_score_after"], row["away_score_after"]) == after
    assert row["score_diff"] == before[0] - before[1]


def test_final_score_and_labels_equal_the_game_log(warehouse):
    [(home, away, home_final, away_final, home_win)] = query(
        warehouse,
        "select home_score_after, away_score_after, home_final_score, away_final_score, home_win "
        "from marts.nba_wp_features where game_id = ? order by action_id desc limit 1",
        [GAME],
    )
    assert (home, away) == (121, 116) == (home_final, away_final)
    assert home_win == 1.0


def test_a_hand_checked_9_0_run(warehouse):
    [run] = query(
        warehouse,
        "select team, start_action_id, end_action_id, points, opponent_points, home_score, away_score "
        "from marts.nba_momentum where game_id = ? and kind = 'scoring_run' and start_action_id = 416",
        [GAME],
    )
    assert run == ("IND", 416, 427, 9, 0, 110, 105)
    during = action(warehouse, 422)
    assert (during["run_team"], during["run_points"], during["run_opponent_points"]) == ("IND", 7, 0)
    assert action(warehouse, 423)["home_run_points"] == 7  # before the next action: +7 for the home team
    ended = action(warehouse, 429)  # Mitchell's free throw answers it
    assert (ended["run_team"], ended["run_points"]) == ("CLE", 1)


def test_lead_changes_counted_like_the_box_score(warehouse, data_mirror):
    retaken, before = action(warehouse, 419), action(warehouse, 418)
    assert retaken["lead_changed"] and not before["lead_changed"]
    assert retaken["lead_changes"] == before["lead_changes"] + 1
    # recount from the raw rows: the leader after every scoring row; a tie does not change the leader
    pbp = pd.read_parquet(
        data_mirror / "nba" / "playbyplayv3_2023_24.parquet",
        columns=["gameId", "actionId", "scoreHome", "scoreAway"],
        filters=[("gameId", "==", GAME)],
    ).sort_values("actionId")
    scores = pbp[["scoreHome", "scoreAway"]].ffill().fillna(0)
    leaders = [
        leader for leader in (scores["scoreHome"] - scores["scoreAway"]).apply(lambda d: (d > 0) - (d < 0))
    ]
    changes, last = 0, 0
    for leader in leaders:
        if leader and last and leader != last:
            changes += 1
        last = leader or last
    [(counted, flagged)] = query(
        warehouse,
        "select max(lead_changes), count(*) filter (where lead_changed) from marts.nba_wp_features "
        "where game_id = ?",
        [GAME],
    )
    assert counted == flagged == changes == 10
    assert query(
        warehouse,
        "select count(*) from marts.nba_momentum where game_id = ? and kind = 'lead_change'",
        [GAME],
    ) == [(10,)]


def test_neutral_site_game_takes_home_from_location(warehouse):
    row = action(warehouse, 10, game="0022400621")
    assert (row["home_team"], row["away_team"]) == ("IND", "SAS")
    assert (row["home_final_score"], row["away_final_score"], row["home_win"]) == (110, 140, 0.0)


def test_clock_possession_and_fouls(warehouse):
    tip = action(warehouse, 3)  # after the jump ball IND has the ball; 11:41 left in the 1st
    assert tip["home_has_possession"] == 1 and tip["period_seconds_remaining"] == 11 * 60 + 41
    miss = action(warehouse, 4)  # after IND's dunk CLE has it
    assert miss["home_has_possession"] == 0 and miss["game_seconds_remaining"] == 3 * 720 + 11 * 60 + 23
    # Allen's shooting foul at 23 is CLE's 2nd team foul of the 1st (Strus's P.FOUL at 10 was the 1st)
    assert (action(warehouse, 23)["away_fouls_period"], action(warehouse, 24)["away_fouls_period"]) == (1, 2)
