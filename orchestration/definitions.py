"""The playcast code location: assets, checks, jobs and resources (workspace.yaml points here)."""

import dagster as dg

from assets.dbt import dbt_models, dbt_source_checks, features_selection
from assets.ingest_nfl import nfl_raw_assets
from orchestration.partitions import nfl_seasons
from orchestration.resources import default_resources

nfl_ingest_job = dg.define_asset_job(
    "nfl_ingest",
    selection=dg.AssetSelection.groups("nfl_raw") - dbt_source_checks,  # those run inside `dbt build`
    partitions_def=nfl_seasons,
    description="Load NFL seasons into raw.*; backfill seasons from the job's Partitions tab.",
)
features_job = dg.define_asset_job(
    "build_features",
    selection=features_selection,
    description="dbt build: staging views, game state, feature marts and their tests.",
)

defs = dg.Definitions(
    assets=[*nfl_raw_assets, dbt_models],
    jobs=[nfl_ingest_job, features_job],
    resources=default_resources(),
)
