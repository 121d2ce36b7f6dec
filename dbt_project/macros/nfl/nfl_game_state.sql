{#-
    nfl_game_state(play_state_relation, games_relation)

    Step 2: the game state BEFORE every play, following nflfastR's conventions.

    play_state_relation: output of nfl_play_state() (stg_nfl__game_feed shape). All plays of a
        game must be present (running sums / carried values are windows over the game).
    games_relation: output of nfl_games() (stg_nfl__games shape); only games present there are
        kept (spread_line / total_line come from it).
    Returns one row per (game_id, play_id), ordered within a game by play_sequence, with
        quarter, is_overtime, quarter/half/game_seconds_remaining,
        posteam, defteam, posteam_is_home, down, ydstogo, yardline_100,
        home_score, away_score, posteam_score, defteam_score, score_differential,
        home/away/posteam/defteam_timeouts_remaining, receive_2h_ko, home_opening_kickoff,
        points_scored (on the play itself; score before the NEXT play = score + points),
        spread_line, total_line, and the keys / play_type / description for people.

    Conventions (nflfastR, helper_add_nflscrapr_mutations.R / helper_add_ep_wp.R):
    - clock: end-of-quarter rows are 0:00; rows without a clock take the last clock seen in
      the quarter (start of the quarter if none: 15:00, or 10:00 in a regular-season OT).
    - half_seconds_remaining = quarter seconds + 900 in Q1/Q3; game_seconds_remaining =
      quarter seconds + 900 * (4 - quarter) in regulation; in overtime both equal the
      quarter seconds (so an OT row has 600 / 900 at its start, not 0).
    - timeouts: 3 per team per half, 2 per team for the whole overtime (nflfastR uses 2 for
      every overtime, regular season or playoffs), counted from the timeouts charged on
      EARLIER rows of the same half (a timeout row itself still shows the count before it).
    - score: points of EARLIER plays only (the play's own points are in points_scored).
    - possession: the play's own possession (receiving team on kickoffs); rows without one
      (timeouts, end of quarter, ...) carry the last known possession forward.
    - receive_2h_ko: 1 in the first half when posteam kicked the opening kickoff (so receives
      the second-half kickoff), else 0 (nflfastR: qtr <= 2 & posteam == first defteam).
    - home_opening_kickoff: 1 if the home team RECEIVED the opening kickoff (nflfastR's meaning).
-#}
{% macro nfl_game_state(play_state_relation, games_relation) %}
with plays as (
    select
        p.*,
        g.spread_line,
        g.total_line,
        -- half: 1, 2, or 3 = overtime (all OT periods share one timeout allowance)
        case when p.quarter <= 2 then 1 when p.quarter <= 4 then 2 else 3 end as game_half,
        case when p.scoring_team = p.home_team then p.points_scored else 0 end as home_points,
        case when p.scoring_team = p.away_team then p.points_scored else 0 end as away_points,
        case when p.timeout_team = p.home_team then 1 else 0 end as home_timeout_used,
        case when p.timeout_team = p.away_team then 1 else 0 end as away_timeout_used,
        -- seconds left in the quarter as far as this row knows
        case
            when p.clock_seconds is null
                 and (p.is_end_of_quarter or p.play_type in ('END_QUARTER', 'END_GAME'))
                then 0
            else p.clock_seconds
        end as clock_seconds_known
    from {{ play_state_relation }} as p
    inner join {{ games_relation }} as g using (game_id)
),

carried as (
    select
        *,
        -- last known clock within the quarter (rows without a clock: GAME_START, some timeouts)
        coalesce(
            last_value(clock_seconds_known ignore nulls) over (
                partition by game_id, quarter order by play_sequence
                rows between unbounded preceding and current row),
            case when quarter >= 5 and season_type = 'REG' then 600 else 900 end
        ) as quarter_seconds_remaining,
        -- last known possession (carried onto timeouts / end of quarter / game rows)
        last_value(possession_team ignore nulls) over (
            partition by game_id order by play_sequence
            rows between unbounded preceding and current row) as posteam,
        -- opening kickoff's kicking team = nflfastR's first non-missing defteam
        first_value(case when is_kickoff then pre_play_team end ignore nulls) over (
            partition by game_id order by play_sequence
            rows between unbounded preceding and unbounded following) as opening_kickoff_team,
        coalesce(sum(home_points) over w_before, 0)::integer as home_score,
        coalesce(sum(away_points) over w_before, 0)::integer as away_score,
        coalesce(sum(home_timeout_used) over w_half_before, 0)::integer as home_timeouts_used,
        coalesce(sum(away_timeout_used) over w_half_before, 0)::integer as away_timeouts_used
    from plays
    window
        w_before as (partition by game_id order by play_sequence
                     rows between unbounded preceding and 1 preceding),
        w_half_before as (partition by game_id, game_half order by play_sequence
                          rows between unbounded preceding and 1 preceding)
),

state as (
    select
        *,
        case when posteam = home_team then away_team when posteam = away_team then home_team end as defteam,
        greatest(case when game_half = 3 then 2 else 3 end - home_timeouts_used, 0) as home_timeouts_remaining,
        greatest(case when game_half = 3 then 2 else 3 end - away_timeouts_used, 0) as away_timeouts_remaining
    from carried
)

select
    game_id,
    play_id,
    season,
    week,
    season_type,
    play_sequence,
    home_team,
    away_team,
    play_type,
    description,
    is_kickoff,
    is_pat,
    possession_team is not null                         as has_play_state,

    quarter,
    quarter >= 5                                        as is_overtime,
    game_half,
    quarter_seconds_remaining,
    case when quarter in (1, 3) then quarter_seconds_remaining + 900
         else quarter_seconds_remaining end             as half_seconds_remaining,
    case when quarter <= 4 then quarter_seconds_remaining + 900 * (4 - quarter)
         else quarter_seconds_remaining end             as game_seconds_remaining,

    posteam,
    defteam,
    posteam = home_team                                 as posteam_is_home,
    down,
    ydstogo,
    yardline_100,

    home_score,
    away_score,
    case when posteam = home_team then home_score when posteam = away_team then away_score end as posteam_score,
    case when posteam = home_team then away_score when posteam = away_team then home_score end as defteam_score,
    case when posteam = home_team then home_score - away_score
         when posteam = away_team then away_score - home_score end as score_differential,
    points_scored,
    scoring_team,

    home_timeouts_remaining,
    away_timeouts_remaining,
    case when posteam = home_team then home_timeouts_remaining
         when posteam = away_team then away_timeouts_remaining end as posteam_timeouts_remaining,
    case when posteam = home_team then away_timeouts_remaining
         when posteam = away_team then home_timeouts_remaining end as defteam_timeouts_remaining,
    timeout_team,

    case when opening_kickoff_team is null or posteam is null then null
         when quarter <= 2 and posteam = opening_kickoff_team then 1 else 0 end as receive_2h_ko,
    case when opening_kickoff_team is null then null
         when opening_kickoff_team = away_team then 1 else 0 end as home_opening_kickoff,

    spread_line,
    total_line
from state
{% endmacro %}
