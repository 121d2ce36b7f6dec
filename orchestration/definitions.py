"""The playcast code location: assets, checks, jobs and resources (workspace.yaml points here)."""

import dagster as dg

from assets.dbt import dbt_source_checks, features_selection, nba_dbt_models, nfl_dbt_models
from assets.ingest_nba import nba_raw_assets
from assets.ingest_nfl import nfl_raw_assets
from assets.training import nba_model_assets, nfl_model_assets
from orchestration.resources import default_resources
from sensors.schedules import mart_sensors, retrain_on_new_data, schedules

nfl_ingest_job = dg.define_asset_job(
    "nfl_ingest",
    selection=dg.AssetSelection.groups("nfl_raw") - dbt_source_checks,  # those run inside `dbt build`
    description="Load NFL seasons into raw.*; backfill seasons from the job's Partitions tab.",
)
nba_ingest_job = dg.define_asset_job(
    "nba_ingest",
    selection=dg.AssetSelection.groups("nba_raw") - dbt_source_checks,
    description="Load NBA seasons ('2024-25') into raw.nba_*; backfill them from the job's Partitions tab.",
)
features_jobs = [
    dg.define_asset_job(
        f"build_{sport}_features",
        selection=features_selection(models),
        description=f"dbt build of the {sport.upper()} models (tag:{sport}): staging views, game state, "
        "feature marts and their tests.",
    )
    for sport, models in (("nfl", nfl_dbt_models), ("nba", nba_dbt_models))
]

defs = dg.Definitions(
    assets=[
        *nfl_raw_assets,
        *nba_raw_assets,
        nfl_dbt_models,
        nba_dbt_models,
        nfl_model_assets,
        nba_model_assets,
    ],
    jobs=[nfl_ingest_job, nba_ingest_job, *features_jobs],  # the retraining jobs come with their schedules
    schedules=schedules,
    sensors=[*mart_sensors, *retrain_on_new_data],
    resources=default_resources(),
    # every step in the run's process: a process per step costs 8-14 s here (interpreter, imports), and the
    # run launcher starts runs with the libraries loaded; writers queue in the pool either way
    executor=dg.in_process_executor,
)
