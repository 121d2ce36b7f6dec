{{ nfl_wp_features(ref('int_nfl__game_state'), ref('stg_nfl__games')) }}
