"""The playcast code location: assets, checks, jobs and resources (workspace.yaml points here)."""

import dagster as dg

from assets.dbt import dbt_models
from assets.ingest_nfl import nfl_raw_assets
from orchestration.partitions import nfl_seasons
from orchestration.resources import default_resources

# dbt's source tests are checks on the raw assets but run inside `dbt build`: keep them out of ingest runs
dbt_source_checks = dg.AssetSelection.checks(
    *(k for k in dbt_models.check_keys if k.asset_key.path[0] == "raw")
)

nfl_ingest_job = dg.define_asset_job(
    "nfl_ingest",
    selection=dg.AssetSelection.groups("nfl_raw") - dbt_source_checks,
    partitions_def=nfl_seasons,
    description="Load NFL seasons into raw.*; backfill seasons from the job's Partitions tab.",
)
features_job = dg.define_asset_job(
    "build_features",
    selection=dg.AssetSelection.assets(dbt_models) | dbt_source_checks,
    description="dbt build: staging views, game state, feature marts and their tests.",
)

defs = dg.Definitions(
    assets=[*nfl_raw_assets, dbt_models],
    jobs=[nfl_ingest_job, features_job],
    resources=default_resources(),
)
