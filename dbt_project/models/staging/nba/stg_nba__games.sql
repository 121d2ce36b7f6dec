{{ nba_games(source('raw', 'nba_games'), source('raw', 'nba_pbp')) }}
