"""Source loaders: read a season from the network or a local mirror into Arrow tables (no Dagster here)."""
