"""Accuracy of the dbt NFL game state (intermediate.int_nfl__game_state).

The game state before every play is rebuilt from the NFL.com game feed by the dbt macros
(dbt_project/macros/nfl/). Here it is compared with nflfastR's own values in the full-schema
nflverse play-by-play for weeks 1-5 of 2020 and 2021 (data mirror:
nfl/nflverse_full_partial/), and a handful of plays are checked by hand against their
descriptions.

Fixtures (tests/conftest.py):
  nfl_warehouse: Path to a DuckDB file with seasons 2020 and 2021 of the raw tables, after
                 `dbt build`.
  data_mirror:   Path to the data folder laid out like ../shared/data (nfl/, nba/).

nflfastR conventions the comparison relies on (checked in the reference data):
  * total_home_score / total_away_score are the score AFTER the play (the field dictionary
    says "at the start of the play", but the scoring play's own row already includes its
    points). Our home_score / away_score are BEFORE the play, so we compare
    home_score + points scored by the home team on the play with total_home_score, and
    home_score with the previous row's total_home_score.
  * timeouts: 3 per half, 2 for the whole overtime; nflfastR counts the timeout on its own
    row, we count timeouts of earlier rows only. Timeout rows have no posteam in nflfastR, so
    posteam/defteam_timeouts_remaining never compare a timeout row itself. The few remaining
    differences are lost challenges, whose timeout nflfastR charges on the challenged play.
  * times: game_seconds_remaining in overtime = seconds left in the OT period.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

MIN_AGREEMENT = 0.99

REFERENCE_FILES = (
    "nfl/nflverse_full_partial/play_by_play_2020_weeks01-05.parquet",
    "nfl/nflverse_full_partial/play_by_play_2021_weeks01-05.parquet",
)

# field name -> (rows that are comparable, agreement condition). `r` = nflfastR, `s` = ours.
FIELD_CHECKS: dict[str, tuple[str, str]] = {
    "total_home_score": (
        "r.total_home_score is not null",
        "s.home_score + case when s.scoring_team = s.home_team then s.points_scored else 0 end"
        " = r.total_home_score",
    ),
    "total_away_score": (
        "r.total_away_score is not null",
        "s.away_score + case when s.scoring_team = s.away_team then s.points_scored else 0 end"
        " = r.total_away_score",
    ),
    "home_score_before_play": ("r.home_score_before is not null", "s.home_score = r.home_score_before"),
    "away_score_before_play": ("r.away_score_before is not null", "s.away_score = r.away_score_before"),
    "score_differential": (
        "r.score_differential is not null",
        "s.score_differential = r.score_differential",
    ),
    "posteam_timeouts_remaining": (
        "r.posteam_timeouts_remaining is not null",
        "s.posteam_timeouts_remaining = r.posteam_timeouts_remaining",
    ),
    "defteam_timeouts_remaining": (
        "r.defteam_timeouts_remaining is not null",
        "s.defteam_timeouts_remaining = r.defteam_timeouts_remaining",
    ),
    "game_seconds_remaining": (
        "r.game_seconds_remaining is not null",
        "s.game_seconds_remaining = r.game_seconds_remaining",
    ),
    "half_seconds_remaining": (
        "r.half_seconds_remaining is not null",
        "s.half_seconds_remaining = r.half_seconds_remaining",
    ),
    "qtr": ("r.qtr is not null", "s.quarter = r.qtr"),
    "down": ("r.down is not null", "s.down = r.down"),
    # nflfastR writes ydstogo = 0 on rows without a play (END QUARTER): compare real plays
    "ydstogo": (
        "r.ydstogo is not null and r.posteam is not null and r.play_type is not null",
        "s.ydstogo = r.ydstogo",
    ),
    "yardline_100": ("r.yardline_100 is not null", "s.yardline_100 = r.yardline_100"),
    "posteam": ("r.posteam is not null", "s.posteam = r.posteam"),
    "receive_2h_ko": ("r.receive_2h_ko is not null", "s.receive_2h_ko = r.receive_2h_ko"),
}


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


@pytest.fixture(scope="module")
def agreement(nfl_warehouse: Path, data_mirror: Path) -> dict[str, tuple[int, int]]:
    """Per field: (agreeing rows, comparable rows) of our state vs nflfastR's."""
    files = [str(data_mirror / f) for f in REFERENCE_FILES]
    for f in files:
        assert Path(f).exists(), f"reference file missing: {f}"
    file_list = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    con = _connect(nfl_warehouse)
    try:
        con.execute(
            f"""
            create temp view ref as
            with raw_ref as (
                select game_id, play_id::bigint as play_id, file_row_number as rn, qtr,
                       half_seconds_remaining, game_seconds_remaining, posteam, defteam, down,
                       ydstogo, yardline_100, posteam_timeouts_remaining,
                       defteam_timeouts_remaining, total_home_score, total_away_score,
                       score_differential, play_type
                from read_parquet({file_list}, file_row_number = true, union_by_name = true)
            ),
            first_defteam as (  -- nflfastR: receive_2h_ko = qtr <= 2 & posteam == first defteam
                select game_id, first(defteam order by rn) filter (where defteam is not null)
                       as opening_kicker
                from raw_ref group by game_id
            )
            select r.*,
                   lag(total_home_score) over w as home_score_before,
                   lag(total_away_score) over w as away_score_before,
                   case when r.posteam is null then null
                        when r.qtr <= 2 and r.posteam = k.opening_kicker then 1 else 0 end
                       as receive_2h_ko
            from raw_ref as r join first_defteam as k using (game_id)
            window w as (partition by r.game_id order by r.rn)
            """
        )
        n_ref, n_joined = con.execute(
            """
            select (select count(*) from ref),
                   (select count(*) from ref join intermediate.int_nfl__game_state
                    using (game_id, play_id))
            """
        ).fetchall()[0]
        # the comparison must not pass vacuously: nearly every nflfastR row has a feed play
        assert n_ref > 25_000, f"only {n_ref} reference rows read"
        assert n_joined >= 0.99 * n_ref, f"only {n_joined} of {n_ref} reference plays found in our state"

        out = {}
        for field, (comparable, agrees) in FIELD_CHECKS.items():
            n, ok = con.execute(
                f"""
                select count(*), count(*) filter (where coalesce({agrees}, false))
                from ref as r
                join intermediate.int_nfl__game_state as s using (game_id, play_id)
                where {comparable}
                """
            ).fetchall()[0]
            out[field] = (ok, n)
        return out
    finally:
        con.close()


def _report(agreement: dict[str, tuple[int, int]]) -> str:
    return "\n".join(
        f"  {field:28s} {ok:6d}/{n:6d} = {ok / n:.4%}" if n else f"  {field:28s} no comparable rows"
        for field, (ok, n) in agreement.items()
    )


@pytest.mark.parametrize("field", list(FIELD_CHECKS))
def test_state_field_agrees_with_nflfastr(agreement: dict[str, tuple[int, int]], field: str) -> None:
    ok, n = agreement[field]
    assert n > 1000, f"{field}: only {n} comparable plays\n{_report(agreement)}"
    assert ok / n >= MIN_AGREEMENT, (
        f"{field}: {ok}/{n} = {ok / n:.4%} agree with nflfastR (need {MIN_AGREEMENT:.0%}).\n"
        f"All fields:\n{_report(agreement)}"
    )


# Hand-checked plays. Values are the state BEFORE the play, read off the play descriptions of
# the game (the feed's and nflfastR's `desc`), not from our own output.
HAND_CHECKED = [
    # 2020_01_HOU_KC (KC home). Q2: KC led 14-7 after Watkins' TD + Butker PAT (2:30);
    # "Timeout #1 by HOU at 01:26", then "Timeout #1 by KC at 00:16". Next snap:
    # "(:16) (Shotgun) P.Mahomes pass short middle to T.Kelce to HOU 31 for 11 yards" from HOU 42.
    dict(
        game_id="2020_01_HOU_KC",
        play_id=1893,
        quarter=2,
        quarter_seconds_remaining=16,
        half_seconds_remaining=16,
        game_seconds_remaining=1816,
        posteam="KC",
        down=1,
        ydstogo=10,
        yardline_100=42,
        home_score=14,
        away_score=7,
        home_timeouts_remaining=2,
        away_timeouts_remaining=2,
    ),
    # 2020_01_HOU_KC: "(:04) H.Butker 29 yard field goal is GOOD" -> score before it 14-7;
    # the FG's own 3 points are in points_scored.
    dict(
        game_id="2020_01_HOU_KC",
        play_id=1961,
        quarter=2,
        game_seconds_remaining=1804,
        posteam="KC",
        home_score=14,
        away_score=7,
        points_scored=3,
    ),
    # 2020_01_HOU_KC Q4: "Timeout #1 by KC at 12:56", "Timeout #1 by HOU at 09:04"; KC 31-20 up.
    # The row "Timeout #2 by HOU at 02:26" shows the state before that timeout: 2 and 2.
    dict(
        game_id="2020_01_HOU_KC",
        play_id=3694,
        quarter=4,
        game_seconds_remaining=146,
        home_score=31,
        away_score=20,
        home_timeouts_remaining=2,
        away_timeouts_remaining=2,
    ),
    # 2021_01_BAL_LV (LV home). Q4 1:39, tied 24-24, after "Timeout #1 by BAL at 10:05" and
    # "Timeout #1 by LV at 01:39": "(1:39) (Shotgun) L.Murray right tackle to LV 35 for 2 yards"
    # (1st & 10 at LV 37).
    dict(
        game_id="2021_01_BAL_LV",
        play_id=4018,
        quarter=4,
        game_seconds_remaining=99,
        half_seconds_remaining=99,
        posteam="BAL",
        down=1,
        ydstogo=10,
        yardline_100=37,
        home_score=24,
        away_score=24,
        home_timeouts_remaining=2,
        away_timeouts_remaining=2,
        posteam_timeouts_remaining=2,
        defteam_timeouts_remaining=2,
    ),
    # 2021_01_BAL_LV: LV then used #2 (1:34) and #3 (1:29), BAL #2 (0:42):
    # "(:42) J.Tucker 47 yard field goal is GOOD" on 4th & 2 at LV 29.
    dict(
        game_id="2021_01_BAL_LV",
        play_id=4132,
        quarter=4,
        game_seconds_remaining=42,
        posteam="BAL",
        down=4,
        ydstogo=2,
        yardline_100=29,
        home_score=24,
        away_score=24,
        home_timeouts_remaining=0,
        away_timeouts_remaining=1,
        points_scored=3,
    ),
    # 2021_01_BAL_LV overtime (regular season: 10:00 period, 2 timeouts each, nflfastR):
    # "J.Tucker kicks 65 yards from BAL 35 to end zone, Touchback." LV receives, 27-27.
    dict(
        game_id="2021_01_BAL_LV",
        play_id=4332,
        quarter=5,
        quarter_seconds_remaining=600,
        half_seconds_remaining=600,
        game_seconds_remaining=600,
        posteam="LV",
        yardline_100=35,
        home_score=27,
        away_score=27,
        home_timeouts_remaining=2,
        away_timeouts_remaining=2,
    ),
    # 2021_01_BAL_LV OT: "Timeout #1 by LV at 07:22", "#2 by LV at 06:23", "#1 by BAL at 06:07";
    # walk-off "(3:44) (Shotgun) D.Carr pass deep right to Z.Jones for 31 yards, TOUCHDOWN"
    # on 2nd & 14 from BAL 31 (after a delay-of-game).
    dict(
        game_id="2021_01_BAL_LV",
        play_id=4845,
        quarter=5,
        game_seconds_remaining=224,
        posteam="LV",
        down=2,
        ydstogo=14,
        yardline_100=31,
        home_score=27,
        away_score=27,
        home_timeouts_remaining=0,
        away_timeouts_remaining=1,
        points_scored=6,
    ),
]


@pytest.mark.parametrize("expected", HAND_CHECKED, ids=lambda e: f"{e['game_id']}-{e['play_id']}")
def test_hand_checked_play(nfl_warehouse: Path, expected: dict) -> None:
    fields = [k for k in expected if k not in ("game_id", "play_id")]
    con = _connect(nfl_warehouse)
    try:
        rows = con.execute(
            f"select {', '.join(fields)} from intermediate.int_nfl__game_state"
            " where game_id = ? and play_id = ?",
            [expected["game_id"], expected["play_id"]],
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == 1, f"{expected['game_id']} play {expected['play_id']}: {len(rows)} rows"
    actual = dict(zip(fields, rows[0], strict=True))
    wanted = {k: expected[k] for k in fields}
    assert actual == wanted


def test_final_scores_match_schedule(nfl_warehouse: Path) -> None:
    """Score after each game's last play equals raw.nfl_games' final score (every game)."""
    con = _connect(nfl_warehouse)
    try:
        bad = con.execute(
            """
            with last_play as (
                select game_id,
                       home_score + case when scoring_team = home_team then points_scored else 0 end as h,
                       away_score + case when scoring_team = away_team then points_scored else 0 end as a
                from intermediate.int_nfl__game_state
                qualify row_number() over (partition by game_id order by play_sequence desc) = 1
            )
            select l.game_id, l.h, g.home_score, l.a, g.away_score
            from last_play l join raw.nfl_games g using (game_id)
            where g.home_score is not null and (l.h <> g.home_score or l.a <> g.away_score)
            """
        ).fetchall()
        n_games = con.execute(
            "select count(distinct game_id) from intermediate.int_nfl__game_state"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert n_games > 500, f"only {n_games} games in the state table"
    assert bad == [], f"{len(bad)} games with a wrong final score, e.g. {bad[:5]}"
