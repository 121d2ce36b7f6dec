"""Plain ML code (features, training, evaluation, registry, prediction); no Dagster imports."""
