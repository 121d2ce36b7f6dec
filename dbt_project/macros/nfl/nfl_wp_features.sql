{#-
    nfl_wp_features(state_relation, games_relation)

    Step 3: win-probability model features + labels, one row per row of state_relation.

    state_relation: output of nfl_game_state() (int_nfl__game_state shape).
    games_relation: output of nfl_games() (stg_nfl__games shape); used only for the labels
        (final scores), which are null while a game is still being played.
    Features follow nflfastR's WP model (helper_add_ep_wp.R, prepare_wp_data):
        elapsed_share   = clip((3600 - game_seconds_remaining) / 3600, 0, 1)
        posteam_spread  = spread_line if posteam is home else -spread_line
        spread_time     = posteam_spread * exp(-4 * elapsed_share)
        diff_time_ratio = score_differential / exp(-4 * elapsed_share)
    plus the same from the home team's point of view (home_score_differential,
    home_spread_time, home_diff_time_ratio) for a model that predicts the home team directly.
    Flags: is_regulation, is_overtime, is_model_play (a real snap with known possession and a
    usable down / distance / yard line: nflfastR's training filter, see the model yml).
-#}
{% macro nfl_wp_features(state_relation, games_relation) %}
with base as (
    select
        s.*,
        greatest(0.0, least(1.0, (3600.0 - s.game_seconds_remaining) / 3600.0)) as elapsed_share,
        case when s.posteam_is_home then s.spread_line else -s.spread_line end as posteam_spread,
        s.home_score - s.away_score as home_score_differential,
        g.home_score as home_final_score,
        g.away_score as away_final_score
    from {{ state_relation }} as s
    left join {{ games_relation }} as g using (game_id)
),

labelled as (
    select
        *,
        case
            when home_final_score is null or away_final_score is null then null
            when home_final_score > away_final_score then 1.0::double
            when home_final_score < away_final_score then 0.0::double
            else 0.5::double
        end as home_win
    from base
)

select
    -- keys
    game_id,
    play_id,
    season,
    week,
    season_type,
    play_sequence,
    home_team,
    away_team,

    -- for people
    play_type,
    description,

    -- game state before the play
    quarter,
    game_half,
    quarter_seconds_remaining,
    half_seconds_remaining,
    game_seconds_remaining,
    posteam,
    defteam,
    posteam_is_home,
    down,
    ydstogo,
    yardline_100,
    home_score,
    away_score,
    posteam_score,
    defteam_score,
    score_differential,
    home_timeouts_remaining,
    away_timeouts_remaining,
    posteam_timeouts_remaining,
    defteam_timeouts_remaining,
    receive_2h_ko,
    home_opening_kickoff,
    spread_line,
    total_line,

    -- derived (posteam perspective, nflfastR)
    elapsed_share,
    posteam_spread,
    posteam_spread * exp(-4 * elapsed_share)            as spread_time,
    score_differential / exp(-4 * elapsed_share)        as diff_time_ratio,

    -- derived (home perspective)
    home_score_differential,
    spread_line * exp(-4 * elapsed_share)               as home_spread_time,
    home_score_differential / exp(-4 * elapsed_share)   as home_diff_time_ratio,

    -- flags
    quarter <= 4                                        as is_regulation,
    is_overtime,
    (
        posteam is not null
        and has_play_state
        and not is_kickoff
        and not is_pat
        and down between 1 and 4
        and ydstogo between 1 and 99
        and yardline_100 between 1 and 99
        and play_type in ('PASS', 'RUSH', 'SACK', 'PUNT', 'FIELD_GOAL', 'PENALTY', 'UNSPECIFIED')
    )                                                   as is_model_play,

    -- labels (final result; never use as features)
    home_final_score,
    away_final_score,
    home_win,
    case when posteam is null or home_win is null then null
         when posteam_is_home then home_win else 1.0 - home_win end as posteam_win
from labelled
{% endmacro %}
