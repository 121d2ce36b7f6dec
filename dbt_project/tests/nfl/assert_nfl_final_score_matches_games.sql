{{ config(meta={'dagster': {'ref': {'name': 'int_nfl__game_state'}}}) }}
-- The running score after the last play of every game (score before the last play + the
-- points scored on it) equals the final score in raw.nfl_games, for every game in both.
with last_play as (
    select
        game_id,
        home_score + case when scoring_team = home_team then points_scored else 0 end as home_final,
        away_score + case when scoring_team = away_team then points_scored else 0 end as away_final
    from {{ ref('int_nfl__game_state') }}
    qualify row_number() over (partition by game_id order by play_sequence desc) = 1
)
select l.game_id, l.home_final, g.home_score, l.away_final, g.away_score
from last_play as l
inner join {{ source('raw', 'nfl_games') }} as g using (game_id)
where g.home_score is not null
  and (l.home_final <> g.home_score or l.away_final <> g.away_score)
