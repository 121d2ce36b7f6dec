"""Momentum alerts of a micro-batch: scoring runs and late lead changes among its new actions.

Read from the live features (the mart's scoring-run and lead-change columns, the state after each action):
    scoring_run  a team's current run reaches PLAYCAST_ALERT_RUN_POINTS (default 8) unanswered points:
                 one alert per run, at the action where it first reaches the threshold ('BOS 10-0 run')
    lead_change  the lead changes hands with at most PLAYCAST_ALERT_LATE_SECONDS (default 300) left in the
                 4th period or in any overtime ('BOS leads 101-99')
Only actions first stored by this run raise alerts, and `live.alerts` is keyed by (game_id, action_id,
kind), so re-processing offsets adds nothing.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from live.sports import Sport
from orchestration.settings import env_number


def run_points() -> float:
    """PLAYCAST_ALERT_RUN_POINTS, default 8."""
    return env_number("PLAYCAST_ALERT_RUN_POINTS", 8, low=1)


def late_seconds() -> float:
    """PLAYCAST_ALERT_LATE_SECONDS, default 300."""
    return env_number("PLAYCAST_ALERT_LATE_SECONDS", 300, low=0)


def observations_per_run() -> int:
    """PLAYCAST_ALERT_OBSERVATIONS, default 20: the most alerts a run also reports as Dagster observations.
    Each is one write to Dagster's event log (~9 ms here: 400 alerts of a 100-game backlog took 3.4 s); all
    are in live.alerts."""
    return int(env_number("PLAYCAST_ALERT_OBSERVATIONS", 20, integer=True, low=0))


COLUMNS = ("game_id", "action_id", "kind", "team", "detail", "period", "clock", "home_score", "away_score")
CANDIDATES = """
with state as (
    select f.*, a.run_id as stored_by,
           lag(f.run_start_action_id) over w as previous_run_start,
           lag(f.run_points) over w as previous_run_points
    from live_features f join {rows} a on a."{game}" = f.game_id and a."{row}" = f.action_id
    window w as (partition by f.game_id order by f.action_id)
)
select game_id, action_id, 'scoring_run' as kind, run_team as team,
       printf('%s %d-%d run', run_team, run_points, run_opponent_points) as detail,
       period, clock, home_score_after as home_score, away_score_after as away_score
from state
where stored_by = $run_id and run_points >= $run_points
  and not (previous_run_start is not distinct from run_start_action_id and previous_run_points >= $run_points)
union all
select game_id, action_id, 'lead_change',
       case when home_score_after > away_score_after then home_team else away_team end,
       printf('%s leads %d-%d',
              case when home_score_after > away_score_after then home_team else away_team end,
              greatest(home_score_after, away_score_after), least(home_score_after, away_score_after)),
       period, clock, home_score_after, away_score_after
from state
where stored_by = $run_id and lead_changed and period >= 4 and period_seconds_remaining <= $late_seconds
"""


def insert_alerts(con: duckdb.DuckDBPyConnection, sport: Sport, run_id: str, now: datetime) -> list[dict]:
    """Insert the alerts of the actions this run stored (once `live_features` is built); returns the new
    ones."""
    columns = ", ".join(COLUMNS)
    game, row = sport.events.id_fields
    candidates = CANDIDATES.format(rows=sport.rows_relation, game=game, row=row)
    new = con.execute(
        f"""
        insert into live.alerts ({columns}, run_id, alerted_at)
        select {columns}, $run_id, $now from ({candidates}) c
        where not exists (select 1 from live.alerts x
                          where x.game_id = c.game_id and x.action_id = c.action_id and x.kind = c.kind)
        returning {columns}
        """,
        {"run_id": run_id, "now": now, "run_points": run_points(), "late_seconds": late_seconds()},
    ).fetchall()
    return [dict(zip(COLUMNS, row, strict=True)) for row in sorted(new, key=lambda r: r[:3])]
