{{ config(meta={'dagster': {'ref': {'name': 'nba_wp_features'}}}) }}
-- marts.nba_wp_features has exactly one row per action of raw.nba_pbp: none lost, duplicated or invented.
with expected as (
    select gameId as game_id, actionId::bigint as action_id from {{ source('raw', 'nba_pbp') }}
),
actual as (
    select game_id, action_id, count(*) as n_rows
    from {{ ref('nba_wp_features') }}
    group by game_id, action_id
)
select coalesce(e.game_id, a.game_id) as game_id, coalesce(e.action_id, a.action_id) as action_id, a.n_rows
from expected as e
full outer join actual as a using (game_id, action_id)
where a.n_rows is null or a.n_rows <> 1 or e.game_id is null
