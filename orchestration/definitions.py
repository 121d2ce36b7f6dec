"""The playcast code location: assets, checks, jobs and resources (workspace.yaml points here)."""

import dagster as dg

from assets.dbt import dbt_models, dbt_source_checks, features_selection
from assets.ingest_nfl import nfl_raw_assets
from assets.training import nfl_model_assets
from orchestration.resources import default_resources
from sensors.schedules import marts_on_new_seasons, retrain_job, retrain_on_new_data, weekly_retrain

nfl_ingest_job = dg.define_asset_job(
    "nfl_ingest",
    selection=dg.AssetSelection.groups("nfl_raw") - dbt_source_checks,  # those run inside `dbt build`
    description="Load NFL seasons into raw.*; backfill seasons from the job's Partitions tab.",
)
features_job = dg.define_asset_job(
    "build_features",
    selection=features_selection,
    description="dbt build: staging views, game state, feature marts and their tests.",
)

defs = dg.Definitions(
    assets=[*nfl_raw_assets, dbt_models, *nfl_model_assets],
    jobs=[nfl_ingest_job, features_job, retrain_job],
    schedules=[weekly_retrain],
    sensors=[marts_on_new_seasons, retrain_on_new_data],
    resources=default_resources(),
)
