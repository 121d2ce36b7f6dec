"""The Dagster code location for playcast and the `playcast` command."""
