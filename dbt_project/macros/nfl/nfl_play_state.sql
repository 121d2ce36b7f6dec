{#-
    nfl_play_state(plays_relation)

    Step 1 of the NFL feature path: one feed play -> one typed, parsed row. Row-local only
    (no window over other plays), so it can run over any batch of feed rows.

    plays_relation: any relation (table, view, CTE name) with exactly the columns of
        raw.nfl_game_feed (NFL.com game-feed plays; live.events_nfl has the same shape).
    Returns: one row per NON-deleted play with
        keys         season, week, season_type, game_id, home_team, away_team, play_id,
                     play_sequence, quarter, drive_sequence
        clock        clock_seconds (clock 'MM:SS' -> seconds; null when the feed has none)
        possession   pre_play_team (nflverse abbr of pre_play's first token), is_kickoff,
                     is_pat (extra point / two-point try), possession_team (nflverse abbr of
                     the team with the ball BEFORE the play; on kickoffs the receiving team,
                     like nflfastR; null on non-play rows such as timeouts / end of quarter)
        field        down (0 -> null), ydstogo, yardline_100 (yards from the possession team
                     to the opponent's end zone)
        scoring      points_scored (by scoring_play_type: TOUCHDOWN 6, FIELD_GOAL 3, PAT 1,
                     PAT2 2, SAFETY 2), scoring_team (nflverse abbr, from scoring_team_id)
        timeouts     timeout_team (team charged with a timeout on this row, from the GSIS stat
                     68 "timeout" in `stats`, which also covers timeouts charged for lost
                     challenges; null when none)
        people       play_type, description, pre_play, yard_line, is_end_of_quarter
-#}
{% macro nfl_play_state(plays_relation) %}
with plays as (
    select
        *,
        -- pre_play reads 'KC  3-12  KC 25' (team, down-distance, yard line),
        -- 'KC  KO  KC 35' (kicking team on kickoffs / free kicks), 'SF  XP  KC 15' (tries)
        nullif(regexp_extract(trim(pre_play), '^(\S+)\s+(\S+)', 1), '') as pre_play_token,
        nullif(regexp_extract(trim(pre_play), '^(\S+)\s+(\S+)', 2), '') as pre_play_kind,
        -- yard_line reads 'KC 35' (side token + yard number) or '50'
        nullif(regexp_extract(yard_line, '^(\S+)\s+\d+$', 1), '') as yard_line_side,
        try_cast(regexp_extract(yard_line, '(\d+)$', 1) as integer) as yard_line_number,
        -- team charged with a timeout: GSIS stat 68 (timeout) in the play's stat list
        [s.teamId for s in from_json(stats, '[{"statType":"INTEGER","teamId":"VARCHAR"}]')
            if s.statType = 68][1] as timeout_team_id
    from {{ plays_relation }}
    where not coalesce(play_deleted, false)
),

parsed as (
    select
        *,
        {{ nfl_team_abbr('pre_play_token') }} as pre_play_team,
        pre_play_kind = 'KO' as is_kickoff,
        pre_play_kind in ('XP', '2PT') or play_type in ('XP_KICK', 'PAT2') as is_pat,
        -- a scrimmage play ('3-12', '1-Goal'), kick ('KO', 'FCK' fair-catch kick) or try ('XP')
        -- carries possession and yard line in pre_play; TIMEOUT ('TIMEOUT KC #1'),
        -- END_QUARTER ('END QTR 1'), GAME_START ('SF - KC'), END_GAME, COMMENT rows do not
        {{ nfl_team_abbr('pre_play_token') }} in (home_team, away_team)
            and (pre_play_kind in ('KO', 'XP', 'FCK') or regexp_matches(pre_play_kind, '^\d+-'))
            as has_play_state
    from plays
)

select
    season::integer                                   as season,
    week::integer                                     as week,
    season_type,
    game_id,
    home_team,
    away_team,
    play_id::bigint                                   as play_id,
    play_sequence::double                             as play_sequence,
    quarter::integer                                  as quarter,
    drive_sequence::integer                           as drive_sequence,
    play_type,
    description,
    pre_play,
    yard_line,
    coalesce(is_end_of_quarter, false)                as is_end_of_quarter,
    coalesce(play_scored, false)                      as play_scored,

    -- game clock at the snap, in seconds left in the quarter
    case
        when regexp_matches(clock, '^\d{1,2}:\d{2}$')
            then split_part(clock, ':', 1)::integer * 60 + split_part(clock, ':', 2)::integer
    end                                               as clock_seconds,

    -- possession BEFORE the play (nflfastR: on kickoffs the receiving team has it)
    case when has_play_state then pre_play_team end   as pre_play_team,
    coalesce(is_kickoff, false)                       as is_kickoff,
    coalesce(is_pat, false)                           as is_pat,
    case
        when not has_play_state then null
        when is_kickoff then case when pre_play_team = home_team then away_team else home_team end
        else pre_play_team
    end                                               as possession_team,

    nullif(down, 0)::integer                          as down,
    case when has_play_state then yards_to_go::integer end as ydstogo,
    -- distance to the opponent's end zone for the possession team; on kickoffs the
    -- yard line is on the kicking team's side, so it is the yard number itself
    case
        when not has_play_state or yard_line_number is null then null
        when yard_line_side is null then yard_line_number               -- '50'
        when {{ nfl_team_abbr('yard_line_side') }} = pre_play_team
            then case when is_kickoff then yard_line_number else 100 - yard_line_number end
        else case when is_kickoff then 100 - yard_line_number else yard_line_number end
    end                                               as yardline_100,

    -- points scored on this play
    case scoring_play_type
        when 'TOUCHDOWN' then 6
        when 'FIELD_GOAL' then 3
        when 'PAT' then 1
        when 'PAT2' then 2
        when 'SAFETY' then 2
        else 0
    end                                               as points_scored,
    case
        when scoring_team_id = home_team_id then home_team
        when scoring_team_id = away_team_id then away_team
    end                                               as scoring_team,

    case
        when timeout_team_id = home_team_id then home_team
        when timeout_team_id = away_team_id then away_team
    end                                               as timeout_team
from parsed
{% endmacro %}
