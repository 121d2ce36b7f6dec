{{ config(meta={'dagster': {'ref': {'name': 'nba_wp_features'}}}) }}
-- One feature definition: the whole path rendered over raw-shaped actions in one statement
-- (nba_wp_features_from_actions, what live micro-batches and `playcast predict nba` run) gives exactly
-- the rows of marts.nba_wp_features. Here it runs over raw.nba_pbp itself.
with live as (
    {{ nba_wp_features_from_actions(source('raw', 'nba_pbp'), source('raw', 'nba_games')) }}
),
live_minus_mart as (
    select * from live
    except
    select * from {{ ref('nba_wp_features') }}
),
mart_minus_live as (
    select * from {{ ref('nba_wp_features') }}
    except
    select * from live
)
select 'only in live path' as side, game_id, action_id from live_minus_mart
union all
select 'only in mart' as side, game_id, action_id from mart_minus_live
