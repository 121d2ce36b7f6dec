{{ nba_wp_features(ref('int_nba__game_state'), ref('stg_nba__games')) }}
