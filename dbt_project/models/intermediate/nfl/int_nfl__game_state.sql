{{ nfl_game_state(ref('stg_nfl__game_feed'), ref('stg_nfl__games')) }}
