"""Dagster sensors and schedules (retraining, Kafka micro-batches)."""
