{{ nfl_play_state(source('raw', 'nfl_game_feed')) }}
