{{ nba_momentum(ref('nba_wp_features'), var('nba_run_threshold')) }}
