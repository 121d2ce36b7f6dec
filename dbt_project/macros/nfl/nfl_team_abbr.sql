{#-
    nfl_team_abbr(expr)

    Normalise an NFL.com ("Shield") team abbreviation to the nflverse abbreviation used in
    game_id / raw.nfl_games. The feed's text fields (pre_play, yard_line, timeout
    descriptions) use a few abbreviations nflverse does not:
        LAR  -> LA   (Rams)
        JAC  -> JAX  (Jaguars)
        LARC -> LAC  (Chargers, seen in 2022_17_LA_LAC)
    Everything else is already the nflverse abbreviation. Prefer the team *ids*
    (home_team_id / away_team_id / drive_team_id / scoring_team_id / stats.teamId) where the feed
    has them; this macro is only for the free-text fields.
-#}
{% macro nfl_team_abbr(expr) -%}
    case {{ expr }}
        when 'LAR' then 'LA'
        when 'JAC' then 'JAX'
        when 'LARC' then 'LAC'
        else {{ expr }}
    end
{%- endmacro %}
