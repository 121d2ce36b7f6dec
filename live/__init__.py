"""Live micro-batch scoring (no Dagster here): Kafka records → live tables → mart features → predictions."""
