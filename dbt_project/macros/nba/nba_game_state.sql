{#-
    nba_game_state(action_state_relation)

    Step 2: the game state BEFORE every action and what the action changed (AFTER it).

    action_state_relation: output of nba_action_state() (stg_nba__actions shape). All actions of a game
        so far must be present: running scores, fouls, runs and lead changes are windows over the game.
        Rows are ordered within a game by action_id.
    Returns one row per (game_id, action_id) with
        teams     home_team_id / home_team, away_team_id / away_team (from the actions' `location`)
        before    home_score, away_score (the V3 score forward-filled: V3 leaves it empty on most
                  non-scoring rows; 0 before the first), score_diff (home - away), home_has_possession
                  (1 / 0; null until an action in the period tells: a made shot, last free throw,
                  rebound, turnover or jump ball), home_fouls_period / away_fouls_period (team fouls of
                  the period so far), home_in_penalty / away_in_penalty (that team's NEXT foul gives free
                  throws: 4 team fouls in a quarter, 3 in overtime, or a foul already in the period's last
                  2 minutes), home/away_points_last_2min and _last_5min (points by each team over the last
                  2 and 5 minutes of game time, up to the previous action), home/away_points_last_5_actions
                  and last_5_actions (team + action type of the 5 previous actions), home_run_points (the
                  current scoring run: + points of a home run, - points of an away run, 0 before any
                  score), lead_changes_before
        after     home_points / away_points (scored by the action), home_score_after, away_score_after,
                  run_team (tricode of the team on the current run of unanswered points), run_points,
                  run_opponent_points (0: runs are unanswered points), run_start_action_id (first scoring
                  action of the run), lead_changes (so far, ties do not count: A leads, tie, B leads = 1),
                  lead_changed (this action put the other team ahead)
-#}
{% macro nba_game_state(action_state_relation) %}
with actions as (
    -- only what the windows below read: they sort every row several times, the wide columns join back last
    select
        game_id, action_id, period, period_seconds_remaining, game_seconds_elapsed, side, team_id,
        team_tricode, action_type, score_home, score_away, is_team_foul, possession_side_after,
        max(case when side = 'home' then team_id end) over whole_game as home_team_id,
        max(case when side = 'away' then team_id end) over whole_game as away_team_id,
        max(case when side = 'home' then team_tricode end) over whole_game as home_team,
        max(case when side = 'away' then team_tricode end) over whole_game as away_team
    from {{ action_state_relation }}
    window whole_game as (partition by game_id)
),

-- the state before an action is a window over the frame ending at the previous one (one sort for both)
after_action as (
    select
        *,
        coalesce(last_value(score_home ignore nulls) over upto, 0) as home_score_after,
        coalesce(last_value(score_away ignore nulls) over upto, 0) as away_score_after,
        coalesce(last_value(score_home ignore nulls) over before, 0) as home_score,
        coalesce(last_value(score_away ignore nulls) over before, 0) as away_score,
        coalesce(last_value(score_home ignore nulls) over six_before, 0) as home_score_6_before,
        coalesce(last_value(score_away ignore nulls) over six_before, 0) as away_score_6_before,
        last_value(possession_side_after ignore nulls) over period_before as possession_before,
        count(*) filter (where is_team_foul and side = 'home') over period_before as home_fouls_period,
        count(*) filter (where is_team_foul and side = 'away') over period_before as away_fouls_period,
        count(*) filter (where is_team_foul and side = 'home' and period_seconds_remaining <= 120)
            over period_before as home_late_fouls,
        count(*) filter (where is_team_foul and side = 'away' and period_seconds_remaining <= 120)
            over period_before as away_late_fouls
    from actions
    window
        upto as (partition by game_id order by action_id rows between unbounded preceding and current row),
        before as (partition by game_id order by action_id rows between unbounded preceding and 1 preceding),
        six_before as (partition by game_id order by action_id
                       rows between unbounded preceding and 6 preceding),
        period_before as (partition by game_id, period order by action_id
                          rows between unbounded preceding and 1 preceding)
),

recent as (  -- apart from the other windows, which need not carry its lists
    select
        game_id,
        action_id,
        list(coalesce(team_tricode, side, '-') || ' ' || coalesce(action_type, '?')) over last_five
            as last_5_actions
    from actions
    window last_five as (partition by game_id order by action_id rows between 5 preceding and 1 preceding)
),

scored as (
    select
        *,
        home_score_after - home_score as home_points,
        away_score_after - away_score as away_points,
        home_score_after - home_score_6_before as home_points_last_6,
        away_score_after - away_score_6_before as away_points_last_6
    from after_action
),

events as (
    select
        *,
        -- who scored on this action: a clean home or away score; anything else (a replay taking
        -- points away) ends the current run
        case
            when home_points > 0 and away_points = 0 then 'home'
            when away_points > 0 and home_points = 0 then 'away'
            when home_points <> 0 or away_points <> 0 then 'mixed'
        end as scoring_side,
        sign(home_score_after - away_score_after) as leader_after,
        -- points over the last 2 / 5 minutes of game time, up to and including this action
        home_score_after - min(home_score) over last_2min as home_points_2min_after,
        away_score_after - min(away_score) over last_2min as away_points_2min_after,
        home_score_after - min(home_score) over last_5min as home_points_5min_after,
        away_score_after - min(away_score) over last_5min as away_points_5min_after
    from scored
    window
        last_2min as (partition by game_id order by game_seconds_elapsed
                      range between 120 preceding and current row),
        last_5min as (partition by game_id order by game_seconds_elapsed
                      range between 300 preceding and current row)
),

runs as (
    select
        *,
        sum(case when scoring_side is not null and scoring_side is distinct from previous_scoring_side
                 then 1 else 0 end) over upto as run_number,
        last_value(scoring_side ignore nulls) over upto as run_side,
        last_value(nullif(leader_after, 0) ignore nulls) over before as leader_before
    from (
        select *, lag(scoring_side ignore nulls) over by_action as previous_scoring_side
        from events
        window by_action as (partition by game_id order by action_id)
    )
    window
        upto as (partition by game_id order by action_id rows between unbounded preceding and current row),
        before as (partition by game_id order by action_id rows between unbounded preceding and 1 preceding)
),

run_totals as (
    select
        *,
        case when run_side in ('home', 'away')
             then sum(home_points + away_points) over run_upto end as run_points_after,
        case when run_side in ('home', 'away')
             then min(case when scoring_side is not null then action_id end) over run_upto end
            as run_start_action_id,
        coalesce(leader_after <> 0 and leader_after <> leader_before, false) as lead_changed
    from runs
    window run_upto as (partition by game_id, run_number order by action_id
                        rows between unbounded preceding and current row)
),

with_counts as (
    select *, sum(lead_changed::integer) over upto as lead_changes
    from run_totals
    window upto as (partition by game_id order by action_id rows between unbounded preceding and current row)
),

before_action as (
    select
        *,
        coalesce(lag(home_points_2min_after) over by_action, 0) as home_points_last_2min,
        coalesce(lag(away_points_2min_after) over by_action, 0) as away_points_last_2min,
        coalesce(lag(home_points_5min_after) over by_action, 0) as home_points_last_5min,
        coalesce(lag(away_points_5min_after) over by_action, 0) as away_points_last_5min,
        coalesce(
            lag(case run_side when 'home' then run_points_after when 'away' then -run_points_after end)
                over by_action,
            0
        ) as home_run_points,
        coalesce(lag(lead_changes) over by_action, 0) as lead_changes_before
    from with_counts
    window by_action as (partition by game_id order by action_id)
)

select
    a.game_id,
    a.action_id,
    a.action_number,
    a.season,
    home_team_id,
    home_team,
    away_team_id,
    away_team,
    a.side,
    a.team_tricode,
    a.action_type,
    a.sub_type,
    a.description,
    a.clock,

    -- before the action
    a.period,
    a.is_overtime,
    a.period_seconds_remaining,
    a.game_seconds_remaining,
    a.game_seconds_elapsed,
    home_score,
    away_score,
    home_score - away_score                           as score_diff,
    case possession_before when 'home' then 1 when 'away' then 0 end as home_has_possession,
    home_fouls_period,
    away_fouls_period,
    home_fouls_period >= case when is_overtime then 3 else 4 end or home_late_fouls > 0 as home_in_penalty,
    away_fouls_period >= case when is_overtime then 3 else 4 end or away_late_fouls > 0 as away_in_penalty,
    home_points_last_2min,
    away_points_last_2min,
    home_points_last_5min,
    away_points_last_5min,
    home_points_last_6 - home_points                  as home_points_last_5_actions,
    away_points_last_6 - away_points                  as away_points_last_5_actions,
    array_to_string(last_5_actions, '; ')             as last_5_actions,
    home_run_points,
    lead_changes_before,

    -- what the action did (state after it)
    home_points,
    away_points,
    home_score_after,
    away_score_after,
    case run_side when 'home' then home_team when 'away' then away_team end as run_team,
    run_points_after                                  as run_points,
    case when run_points_after is not null then 0 end as run_opponent_points,
    run_start_action_id,
    lead_changes,
    lead_changed
from before_action
join {{ action_state_relation }} as a using (game_id, action_id)
join recent using (game_id, action_id)
{% endmacro %}
