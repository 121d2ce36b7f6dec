{{ config(meta={'dagster': {'ref': {'name': 'nfl_wp_features'}}}) }}
-- marts.nfl_wp_features has exactly one row per non-deleted feed play of the games that are
-- in raw.nfl_games: no play lost, none duplicated, none invented.
with expected as (
    select f.game_id, f.play_id::bigint as play_id
    from {{ source('raw', 'nfl_game_feed') }} as f
    where not coalesce(f.play_deleted, false)
      and f.game_id in (select game_id from {{ source('raw', 'nfl_games') }})
),
actual as (
    select game_id, play_id, count(*) as n_rows
    from {{ ref('nfl_wp_features') }}
    group by game_id, play_id
)
select coalesce(e.game_id, a.game_id) as game_id, coalesce(e.play_id, a.play_id) as play_id,
       a.n_rows
from expected as e
full outer join actual as a using (game_id, play_id)
where a.n_rows is null or a.n_rows <> 1 or e.game_id is null
