{#-
    nba_wp_features(state_relation, games_relation)

    Step 3: win-probability features + labels, one row per row of state_relation (every action).

    state_relation: output of nba_game_state() (int_nba__game_state shape).
    games_relation: output of nba_games() (stg_nba__games shape); LEFT joined, so actions of games it
        lacks are kept with null labels and strengths (a file scored without the game log).
    Derived features (home team's point of view):
        diff_time_ratio = score_diff / sqrt(game_seconds_remaining / 60 + 1): a lead counts more as time
                          runs out (about score_diff at the final buzzer, score_diff / 7 at tip-off)
        strength_diff   = home_strength - away_strength (season-to-date point differential per game
                          before this game; null when either team has not played yet)
        strength_time   = strength_diff * game_seconds_remaining / 2880: the strength still to play out
    Labels (final result; never features): home_final_score, away_final_score, home_win (1.0 / 0.0).
-#}
{% macro nba_wp_features(state_relation, games_relation) %}
select
    -- keys
    s.game_id,
    s.action_id,
    s.action_number,
    s.season,
    g.game_date,
    s.home_team_id,
    s.home_team,
    s.away_team_id,
    s.away_team,

    -- for people
    s.team_tricode,
    s.action_type,
    s.sub_type,
    s.description,
    s.clock,

    -- game state before the action
    s.period,
    s.is_overtime,
    s.period_seconds_remaining,
    s.game_seconds_remaining,
    s.game_seconds_elapsed,
    s.home_score,
    s.away_score,
    s.score_diff,
    s.score_diff / sqrt(s.game_seconds_remaining / 60.0 + 1.0) as diff_time_ratio,
    s.home_has_possession,
    s.home_fouls_period,
    s.away_fouls_period,
    s.home_in_penalty,
    s.away_in_penalty,
    s.home_points_last_2min,
    s.away_points_last_2min,
    s.home_points_last_5min,
    s.away_points_last_5min,
    s.home_points_last_5_actions,
    s.away_points_last_5_actions,
    s.last_5_actions,
    s.home_run_points,
    s.lead_changes_before,

    -- pre-game strength (earlier games of the season only)
    g.home_prior_games,
    g.away_prior_games,
    g.home_strength,
    g.away_strength,
    g.home_strength - g.away_strength                 as strength_diff,
    (g.home_strength - g.away_strength) * s.game_seconds_remaining / 2880.0 as strength_time,

    -- what the action did (state after it: the live alerts read these)
    s.home_points,
    s.away_points,
    s.home_score_after,
    s.away_score_after,
    s.run_team,
    s.run_points,
    s.run_opponent_points,
    s.run_start_action_id,
    s.lead_changes,
    s.lead_changed,

    -- labels
    g.home_score                                      as home_final_score,
    g.away_score                                      as away_final_score,
    g.home_win
from {{ state_relation }} as s
left join {{ games_relation }} as g using (game_id)
{% endmacro %}
