-- Timeouts never exceed the allowance of the period (3 per half, 2 in overtime) and
-- scores never go down within a game.
select game_id, play_id, quarter, home_timeouts_remaining, away_timeouts_remaining
from {{ ref('int_nfl__game_state') }}
where home_timeouts_remaining > case when quarter >= 5 then 2 else 3 end
   or away_timeouts_remaining > case when quarter >= 5 then 2 else 3 end
   or home_score < 0 or away_score < 0
