"""The playcast code location: assets, checks, jobs and resources (workspace.yaml points here)."""

import dagster as dg

from assets.dbt import dbt_models
from assets.ingest_nfl import nfl_raw_assets
from orchestration.partitions import nfl_seasons
from orchestration.resources import default_resources

nfl_ingest_job = dg.define_asset_job(
    "nfl_ingest",
    selection=dg.AssetSelection.groups("nfl_raw"),
    partitions_def=nfl_seasons,
    description="Load NFL seasons into raw.*; backfill seasons from the job's Partitions tab.",
)
features_job = dg.define_asset_job(
    "build_features",
    selection=dg.AssetSelection.assets(dbt_models),
    description="dbt build: staging views, game state, feature marts and their tests.",
)

defs = dg.Definitions(
    assets=[*nfl_raw_assets, dbt_models],
    jobs=[nfl_ingest_job, features_job],
    resources=default_resources(),
)
