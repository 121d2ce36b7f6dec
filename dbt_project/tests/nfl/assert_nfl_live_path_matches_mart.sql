{{ config(meta={'dagster': {'ref': {'name': 'nfl_wp_features'}}}) }}
-- One feature definition: rendering the whole path over feed-shaped rows in one statement
-- (nfl_wp_features_from_feed, what the live micro-batches use over live.events_nfl) gives
-- exactly the rows of marts.nfl_wp_features. Here it runs over raw.nfl_game_feed itself.
with live as (
    {{ nfl_wp_features_from_feed(source('raw', 'nfl_game_feed'), source('raw', 'nfl_games')) }}
),
live_minus_mart as (
    select * from live
    except
    select * from {{ ref('nfl_wp_features') }}
),
mart_minus_live as (
    select * from {{ ref('nfl_wp_features') }}
    except
    select * from live
)
select 'only in live path' as side, game_id, play_id from live_minus_mart
union all
select 'only in mart' as side, game_id, play_id from mart_minus_live
