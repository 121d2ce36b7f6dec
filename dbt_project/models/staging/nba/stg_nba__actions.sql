{{ nba_action_state(source('raw', 'nba_pbp')) }}
