{{ nfl_games(source('raw', 'nfl_games')) }}
