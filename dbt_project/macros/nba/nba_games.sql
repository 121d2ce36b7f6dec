{#-
    nba_games(games_relation, actions_relation)

    One row per game from LeagueGameLog team rows (two per game), with labels and a pre-game strength.

    games_relation: a relation with the columns of raw.nba_games (LeagueGameLog: SEASON_ID, TEAM_ID,
        TEAM_ABBREVIATION, GAME_ID, GAME_DATE, MATCHUP 'BOS vs. NYK' = home / 'NYK @ BOS' = away, PTS,
        PLUS_MINUS, ...).
    actions_relation: a relation with the columns of raw.nba_pbp. Only used for games whose two
        MATCHUPs both read '@' (neutral-site games, e.g. the NBA Cup or games abroad): there the home
        team is the one PlayByPlayV3 marks with location 'h'.
    Returns game_id, season (start year), game_date, home/away team_id and tricode, home_score,
    away_score (final), home_win (1.0 / 0.0), and per side the strength BEFORE the game, from earlier
    games of the same season only: *_prior_games (0 in a team's first game) and *_strength (average
    point differential per game so far; null in a team's first game).
-#}
{% macro nba_games(games_relation, actions_relation) %}
with team_games as (
    select
        GAME_ID                                       as game_id,
        SEASON_ID::integer % 10000                    as season,
        GAME_DATE::date                               as game_date,
        TEAM_ID::bigint                               as team_id,
        TEAM_ABBREVIATION                             as team,
        MATCHUP                                       as matchup,
        PTS::integer                                  as points,
        count(*) over earlier                         as prior_games,
        avg(PLUS_MINUS::double) over earlier          as strength,
        bool_or(MATCHUP like '% vs. %') over (partition by GAME_ID) as has_home_row
    from {{ games_relation }}
    window earlier as (
        partition by TEAM_ID, SEASON_ID order by GAME_DATE, GAME_ID
        rows between unbounded preceding and 1 preceding)
),

pbp_home as (
    select gameId as game_id, max(nullif(teamId, 0))::bigint as team_id
    from {{ actions_relation }}
    where location = 'h'
    group by gameId
),

sided as (
    select
        t.*,
        case when t.has_home_row then t.matchup like '% vs. %' else t.team_id = h.team_id end as is_home
    from team_games as t
    left join pbp_home as h using (game_id)
)

select
    game_id,
    any_value(season)                                 as season,
    any_value(game_date)                              as game_date,
    max(team_id) filter (where is_home)               as home_team_id,
    max(team_id) filter (where not is_home)           as away_team_id,
    max(team) filter (where is_home)                  as home_team,
    max(team) filter (where not is_home)              as away_team,
    max(points) filter (where is_home)                as home_score,
    max(points) filter (where not is_home)            as away_score,
    case
        when max(points) filter (where is_home) > max(points) filter (where not is_home) then 1.0::double
        when max(points) filter (where is_home) < max(points) filter (where not is_home) then 0.0::double
    end                                               as home_win,
    max(prior_games) filter (where is_home)           as home_prior_games,
    max(prior_games) filter (where not is_home)       as away_prior_games,
    max(strength) filter (where is_home)              as home_strength,
    max(strength) filter (where not is_home)          as away_strength
from sided
group by game_id
{% endmacro %}
