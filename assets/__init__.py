"""Dagster asset definitions: thin wrappers over `ingest/`, `warehouse/`, dbt and `models/`."""
