{{ config(meta={'dagster': {'ref': {'name': 'nba_momentum'}}}) }}
-- Every scoring run in marts.nba_momentum is what its name says: between its first and last action the
-- running team scored exactly `points` and the other team scored nothing.
with spans as (
    select
        m.game_id, m.start_action_id, m.points,
        sum(case when f.home_team = m.team then f.home_points else f.away_points end) as team_points,
        sum(case when f.home_team = m.team then f.away_points else f.home_points end) as opponent_points
    from {{ ref('nba_momentum') }} as m
    inner join {{ ref('nba_wp_features') }} as f
        on f.game_id = m.game_id and f.action_id between m.start_action_id and m.end_action_id
    where m.kind = 'scoring_run'
    group by all
)
select * from spans where team_points <> points or opponent_points <> 0
