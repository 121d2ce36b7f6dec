{#-
    nba_wp_features_from_actions(actions_relation, games_relation)

    The whole NBA feature path in one statement, for relations that are NOT the dbt models (the live
    micro-batches over `live_actions`, `playcast predict nba` over a file): PlayByPlayV3-shaped actions +
    LeagueGameLog-shaped games -> nba_action_state -> nba_game_state -> nba_wp_features, with the same
    macros as stg_nba__actions -> int_nba__game_state -> nba_wp_features, so it returns exactly the mart's
    rows for those games (tests/nba/assert_nba_live_path_matches_mart.sql).

    actions_relation: relation with the columns of raw.nba_pbp (all actions so far of each game).
    games_relation: relation with the columns of raw.nba_games (may be empty: labels are then null).
-#}
{% macro nba_wp_features_from_actions(actions_relation, games_relation) %}
with
nba_feed_actions as (
    {{ nba_action_state(actions_relation) }}
),
nba_feed_games as (
    {{ nba_games(games_relation, actions_relation) }}
),
nba_feed_state as (
    {{ nba_game_state('nba_feed_actions') }}
)
select * from (
    {{ nba_wp_features('nba_feed_state', 'nba_feed_games') }}
)
{% endmacro %}
