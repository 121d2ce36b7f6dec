"""Per sport: `dbt build` after new raw seasons, weekly in-season retraining, retraining on new mart data."""

import zoneinfo
from dataclasses import dataclass

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus
from dagster._utils.schedules import is_valid_cron_string

from orchestration.settings import env_text

ACTIVE = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]  # fmt: skip


@dataclass(frozen=True)
class Season:
    """When a sport plays, for its weekly retraining (cron in the time zone; an env var overrides it)."""

    cron: str
    cron_env: str
    description: str


# Tuesdays 06:00 New York time: NFL September to February, NBA October to June
SEASONS = {
    "nfl": Season("0 6 * 9-12,1-2 2", "PLAYCAST_RETRAIN_CRON", "September through February"),
    "nba": Season("0 6 * 10-12,1-6 2", "PLAYCAST_NBA_RETRAIN_CRON", "October through June"),
}


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _cron(sport: str) -> str:
    season = SEASONS[sport]
    return env_text(
        season.cron_env, season.cron, is_valid_cron_string, f"a cron schedule like {season.cron!r}"
    )


RETRAIN_TIMEZONE = env_text(
    "PLAYCAST_RETRAIN_TIMEZONE", "America/New_York", _is_time_zone, "an IANA time zone like America/New_York"
)
RETRAIN_CRON = _cron("nfl")
NBA_RETRAIN_CRON = _cron("nba")
RAW = {
    "nfl": [dg.AssetKey(["raw", name]) for name in ("nfl_games", "nfl_pbp", "nfl_game_feed")],
    "nba": [dg.AssetKey(["raw", name]) for name in ("nba_games", "nba_pbp")],
}
RAW_NFL = RAW["nfl"]
MART = {sport: dg.AssetKey(["marts", f"{sport}_wp_features"]) for sport in SEASONS}  # what the models read


def retrain_job(sport: str):  # an unresolved asset job: Definitions resolves it
    return dg.define_asset_job(
        f"retrain_{sport}_models",
        selection=dg.AssetSelection.groups(f"{sport}_models"),
        description=f"Train, evaluate and register a new version of every {sport.upper()} model.",
    )


def weekly_retrain(sport: str, cron: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"weekly_{sport}_retrain",
        job=retrain_job(sport),
        cron_schedule=cron,
        execution_timezone=RETRAIN_TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Weekly retraining during the {sport.upper()} season, {SEASONS[sport].description} "
        f"({SEASONS[sport].cron_env}).",
    )


def _latest_materialization(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> int:
    """The storage id of the newest materialization of any of `keys` (0 if none)."""
    ids = [r.storage_id for key in keys for r in instance.fetch_materializations(key, limit=1).records]
    return max(ids, default=0)


def _ingesting(instance: dg.DagsterInstance, sport: str) -> bool:
    """Whether the sport's raw seasons are still being loaded: a queued or running run of its ingest job or of
    assets that include a raw one (the UI's *Materialize*, an asset backfill), or a backfill of either that is
    not done (an asset backfill launches a downstream raw asset's runs only after its upstream's finished)."""
    raw = set(RAW[sport])
    for run in instance.get_runs(dg.RunsFilter(statuses=ACTIVE)):
        if run.job_name == f"{sport}_ingest" or raw & set(run.asset_selection or ()):
            return True
    for backfill in instance.get_backfills(status=BulkActionStatus.REQUESTED):
        origin = backfill.partition_set_origin
        if raw & set(backfill.asset_selection or ()) or (
            origin is not None and origin.partition_set_name == f"{sport}_ingest_partition_set"
        ):
            return True
    return False


def marts_on_new_seasons(sport: str) -> dg.SensorDefinition:
    """Runs the sport's `dbt build` once raw seasons have landed and none of its ingest runs is going."""

    @dg.sensor(
        name=f"{sport}_marts_on_new_seasons",
        job_name=f"build_{sport}_features",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Runs the {sport.upper()} `dbt build` once raw seasons have landed and no ingest run "
        "is still going.",
    )
    def sensor(context: dg.SensorEvaluationContext):
        latest = _latest_materialization(context.instance, RAW[sport])
        # what the last build saw: the cursor, or without one (a new sensor, `playcast demo` building the
        # marts in-process) the mart's own latest materialization
        seen = max(int(context.cursor or 0), _latest_materialization(context.instance, [MART[sport]]))
        if latest <= seen:
            return dg.SkipReason("no new raw season since the last dbt build")
        if _ingesting(context.instance, sport):
            return dg.SkipReason("waiting for the running ingest (backfill) to finish")
        context.update_cursor(str(latest))
        return dg.RunRequest(run_key=f"raw-{sport}-{latest}")

    return sensor


nfl_weekly_retrain = weekly_retrain("nfl", RETRAIN_CRON)
nba_weekly_retrain = weekly_retrain("nba", NBA_RETRAIN_CRON)
nfl_marts_on_new_seasons = marts_on_new_seasons("nfl")
nba_marts_on_new_seasons = marts_on_new_seasons("nba")
schedules = [nfl_weekly_retrain, nba_weekly_retrain]
mart_sensors = [nfl_marts_on_new_seasons, nba_marts_on_new_seasons]

# the model assets' eager condition: a new mart (after any dbt build) → that sport's models retrain. One
# sensor per sport, so that a run trains one sport's models (assets/training.py: a run never waits for the
# pool while it trains)
retrain_on_new_data = [
    dg.AutomationConditionSensorDefinition(
        f"retrain_{sport}_on_new_data",
        target=dg.AssetSelection.groups(f"{sport}_models"),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description=f"Retrains the {sport.upper()} models when their feature mart changes.",
    )
    for sport in SEASONS
]
