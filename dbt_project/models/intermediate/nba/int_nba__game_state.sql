{{ nba_game_state(ref('stg_nba__actions')) }}
