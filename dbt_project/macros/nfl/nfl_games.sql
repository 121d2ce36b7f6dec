{#-
    nfl_games(games_relation)

    Typed game rows for the feature path.
    games_relation: a relation with the columns of raw.nfl_games (nflverse schedules).
    Returns one row per game: game_id, season, game_type, season_type ('REG' / 'POST'), week,
    gameday, home_team, away_team, home_score, away_score (final; null before the game ends),
    result (home - away), spread_line (> 0: home favoured), total_line, overtime, roof,
    surface, home_rest, away_rest, div_game.
-#}
{% macro nfl_games(games_relation) %}
select
    game_id,
    season::integer                                   as season,
    game_type,
    case when game_type = 'REG' then 'REG' else 'POST' end as season_type,
    week::integer                                     as week,
    gameday::date                                     as gameday,
    home_team,
    away_team,
    home_score::integer                               as home_score,
    away_score::integer                               as away_score,
    result::integer                                   as result,
    spread_line::double                               as spread_line,
    total_line::double                                as total_line,
    overtime::integer                                 as overtime,
    roof,
    surface,
    home_rest::integer                                as home_rest,
    away_rest::integer                                as away_rest,
    div_game::integer                                 as div_game
from {{ games_relation }}
{% endmacro %}
