{#-
    nfl_wp_features_from_feed(plays_relation, games_relation)

    The whole feature path in one statement, for relations that are NOT the dbt models
    (e.g. live.events_nfl): feed-shaped plays + raw-games-shaped games ->
    nfl_play_state -> nfl_game_state -> nfl_wp_features. Same macros as the
    stg -> int -> mart models, so live features and training features share one definition.

    plays_relation: relation with the columns of raw.nfl_game_feed (all plays so far of each game).
    games_relation: relation with the columns of raw.nfl_games.
    Example (a live model or `dbt compile --inline`):
        {{ '{{' }} nfl_wp_features_from_feed('live.events_nfl', source('raw', 'nfl_games')) {{ '}}' }}
-#}
{% macro nfl_wp_features_from_feed(plays_relation, games_relation) %}
with
feed_play_state as (
    {{ nfl_play_state(plays_relation) }}
),
feed_games as (
    {{ nfl_games(games_relation) }}
),
feed_game_state as (
    {{ nfl_game_state('feed_play_state', 'feed_games') }}
)
select * from (
    {{ nfl_wp_features('feed_game_state', 'feed_games') }}
)
{% endmacro %}
