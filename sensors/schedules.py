"""Retraining: a weekly in-season schedule and retraining when new data reaches the feature mart."""

import os

import dagster as dg

MODEL_GROUP = "nfl_models"
# Tuesdays 06:00 from September through February (the NFL season); PLAYCAST_RETRAIN_CRON overrides it
RETRAIN_CRON = os.environ.get("PLAYCAST_RETRAIN_CRON", "0 6 * 9-12,1-2 2")

retrain_job = dg.define_asset_job(
    "retrain_nfl_models",
    selection=dg.AssetSelection.groups(MODEL_GROUP),
    description="Train, evaluate and register a new version of every NFL model.",
)
weekly_retrain = dg.ScheduleDefinition(
    name="weekly_nfl_retrain",
    job=retrain_job,
    cron_schedule=RETRAIN_CRON,
    execution_timezone=os.environ.get("PLAYCAST_RETRAIN_TIMEZONE", "America/New_York"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekly retraining during the season (PLAYCAST_RETRAIN_CRON).",
)
RAW_NFL = [dg.AssetKey(["raw", name]) for name in ("nfl_games", "nfl_pbp", "nfl_game_feed")]
ACTIVE = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]  # fmt: skip


@dg.sensor(
    job_name="build_features",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs `dbt build` once raw seasons have landed and no ingest run is still going.",
)
def marts_on_new_seasons(context: dg.SensorEvaluationContext):
    latest = 0
    for key in RAW_NFL:
        records = context.instance.fetch_materializations(key, limit=1).records
        latest = max([latest, *(r.storage_id for r in records)])
    seen = int(context.cursor or 0)
    if latest <= seen:
        return dg.SkipReason("no new raw season since the last dbt build")
    ingesting = context.instance.get_runs(dg.RunsFilter(job_name="nfl_ingest", statuses=ACTIVE), limit=1)
    if ingesting:
        return dg.SkipReason("waiting for the running ingest (backfill) to finish")
    context.update_cursor(str(latest))
    return dg.RunRequest(run_key=f"raw-nfl-{latest}")


# the model assets' eager condition: a new mart (after any dbt build) → every model retrains
retrain_on_new_data = dg.AutomationConditionSensorDefinition(
    "retrain_on_new_data",
    target=dg.AssetSelection.groups(MODEL_GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Retrains the models when the feature mart changes.",
)
