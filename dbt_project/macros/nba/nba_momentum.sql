{#-
    nba_momentum(features_relation, threshold)

    Momentum events per game from nba_wp_features rows: one row per scoring run of at least `threshold`
    unanswered points (kind 'scoring_run') and one per lead change (kind 'lead_change').

    features_relation: output of nba_wp_features() (marts.nba_wp_features shape).
    threshold: smallest run kept (dbt var nba_run_threshold, 8 by default: an 8-0 run).
    Returns game_id, kind, team (the team on the run / the new leader), start_action_id and end_action_id
    (first and last scoring action of the run; the lead change's action twice), period and clock of
    both, points and opponent_points (the run's; null for lead changes), home_score / away_score after
    the event's last action, and lead_changes (lead changes in the game so far).
-#}
{% macro nba_momentum(features_relation, threshold) %}
with runs as (
    select
        game_id,
        run_team                                      as team,
        run_start_action_id                           as start_action_id,
        max(action_id) filter (where home_points + away_points > 0) as end_action_id,
        max(run_points)                               as points
    from {{ features_relation }}
    where run_team is not null
    group by game_id, run_team, run_start_action_id
    having max(run_points) >= {{ threshold }}
),

events as (
    select game_id, 'scoring_run' as kind, team, start_action_id, end_action_id, points, 0 as opponent_points
    from runs
    union all
    select
        game_id, 'lead_change' as kind,
        case when home_score_after > away_score_after then home_team else away_team end as team,
        action_id, action_id, null, null
    from {{ features_relation }}
    where lead_changed
)

select
    e.game_id,
    e.kind,
    e.team,
    e.start_action_id,
    e.end_action_id,
    s.period                                          as start_period,
    s.clock                                           as start_clock,
    f.period                                          as end_period,
    f.clock                                           as end_clock,
    e.points,
    e.opponent_points,
    f.home_score_after                                as home_score,
    f.away_score_after                                as away_score,
    f.lead_changes
from events as e
inner join {{ features_relation }} as s on s.game_id = e.game_id and s.action_id = e.start_action_id
inner join {{ features_relation }} as f on f.game_id = e.game_id and f.action_id = e.end_action_id
{% endmacro %}
