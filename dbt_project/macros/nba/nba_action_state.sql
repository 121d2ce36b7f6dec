{#-
    nba_action_state(actions_relation)

    Step 1 of the NBA feature path: one PlayByPlayV3 action -> one typed, parsed row. Row-local only
    (no window over other actions), so it runs over any batch of actions.

    actions_relation: any relation with the columns of raw.nba_pbp (PlayByPlayV3: gameId, actionId,
        actionNumber, clock 'PT11M36.00S', period, teamId, teamTricode, location 'h'/'v', scoreHome,
        scoreAway, actionType, subType, description, ...); live.nba_actions has the same shape.
    Returns one row per action, key (game_id, action_id) (actionNumber is not unique: a steal or block
    shares the turnover's / shot's number), with
        keys      game_id, action_id, action_number, season (start year, from the game id: 0022300001 -> 2023)
        clock     period, is_overtime, period_seconds_remaining (clock -> seconds), game_seconds_remaining
                  (periods of 12 min, overtime 5 min; in overtime the seconds left in the OT period, as the
                  NFL's nflfastR convention), game_seconds_elapsed (monotone over the whole game)
        team      side ('home' / 'away' from `location`; null on period / replay rows), team_id (null for
                  team rows, teamId 0), team_tricode
        score     score_home, score_away: the score AFTER the action as V3 states it, null on most
                  non-scoring rows (forward-filled in nba_game_state)
        events    is_made_shot, is_missed_shot, is_free_throw, is_rebound, is_turnover, is_team_foul (a foul
                  carrying the team-foul tag '(P2.T3)' / '(P4.PN)': personal, shooting, loose ball, take,
                  flagrant; not offensive or technical fouls), is_last_free_throw (n of n)
        possession_side_after: the side that has the ball after this action when the action tells it
                  (made shot or made last free throw -> the other side, rebound -> the rebounder's side,
                  turnover -> the other side, jump ball -> the side that won the tip), else null
        people    action_type, sub_type, description, clock, player_name, shot_value
-#}
{% macro nba_action_state(actions_relation) %}
with actions as (
    select
        *,
        case location when 'h' then 'home' when 'v' then 'away' end as side_,
        try_cast(regexp_extract(clock, '^PT(\d+)M', 1) as integer) * 60
            + try_cast(regexp_extract(clock, 'M([0-9.]+)S$', 1) as double) as clock_seconds_,
        regexp_extract(subType, '(\d+) of (\d+)$', ['n', 'of']) as free_throw_of_
    from {{ actions_relation }}
),

parsed as (
    select
        *,
        case side_ when 'home' then 'away' when 'away' then 'home' end as other_side_,
        actionType = 'Made Shot' as is_made_shot_,
        actionType = 'Free Throw' and coalesce(description, '') not like 'MISS %' as free_throw_made_,
        actionType = 'Free Throw'
            and free_throw_of_.n <> '' and free_throw_of_.n = free_throw_of_.of
            and coalesce(subType, '') not like '%Technical%' as is_last_free_throw_
    from actions
)

select
    gameId                                            as game_id,
    actionId::bigint                                  as action_id,
    actionNumber::bigint                              as action_number,
    case when substr(gameId, 4, 2)::integer >= 46 then 1900 else 2000 end
        + substr(gameId, 4, 2)::integer               as season,
    period::integer                                   as period,
    period >= 5                                       as is_overtime,
    clock,
    coalesce(clock_seconds_, 0.0)                     as period_seconds_remaining,
    case when period <= 4 then coalesce(clock_seconds_, 0.0) + 720 * (4 - period)
         else coalesce(clock_seconds_, 0.0) end       as game_seconds_remaining,
    case when period <= 4 then (period - 1) * 720 + 720 - coalesce(clock_seconds_, 0.0)
         else 2880 + (period - 5) * 300 + 300 - coalesce(clock_seconds_, 0.0) end as game_seconds_elapsed,

    side_                                             as side,
    nullif(teamId, 0)::bigint                         as team_id,
    teamTricode                                       as team_tricode,
    personId::bigint                                  as person_id,
    playerName                                        as player_name,

    scoreHome::integer                                as score_home,
    scoreAway::integer                                as score_away,

    actionType                                        as action_type,
    subType                                           as sub_type,
    description,
    shotValue::integer                                as shot_value,
    is_made_shot_                                     as is_made_shot,
    coalesce(actionType = 'Missed Shot', false)       as is_missed_shot,
    coalesce(actionType = 'Free Throw', false)        as is_free_throw,
    coalesce(is_last_free_throw_, false)              as is_last_free_throw,
    coalesce(actionType = 'Rebound', false)           as is_rebound,
    coalesce(actionType = 'Turnover', false)          as is_turnover,
    coalesce(
        actionType = 'Foul' and regexp_matches(description, '\(P\d+\.(T\d+|PN)\)'), false
    )                                                 as is_team_foul,

    case
        when is_made_shot_ then other_side_
        when is_last_free_throw_ and free_throw_made_ then other_side_
        when actionType = 'Rebound' then side_
        when actionType = 'Turnover' then other_side_
        when actionType = 'Jump Ball' then side_
    end                                               as possession_side_after
from parsed
{% endmacro %}
