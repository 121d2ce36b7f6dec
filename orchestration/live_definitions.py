"""The live-scoring code location: the Kafka sensors and the micro-batch jobs, and nothing heavy.

A separate location so each micro-batch run process imports only what scoring needs (no dbt, no training):
run launch time is most of the latency from a play to its prediction. Its assets depend on the batch
location's raw games and models, so the asset graph shows one lineage across both.
"""

import dagster as dg

import models.predict  # noqa: F401  the champions' code, loaded with the location: not while a run holds the pool
from assets.scoring import NBA_TOPIC_SPEC, NFL_TOPIC_SPEC, nba_live_scoring, nfl_live_scoring
from live.sports import NBA, NFL
from orchestration.resources import Kafka, Warehouse
from orchestration.run_coordinator import FAST_LANE_TAG
from sensors.kafka import nba_actions_sensor, nfl_plays_sensor
from stream import bootstrap_from_env
from warehouse import warehouse_path

# a failed or killed micro-batch leaves the warehouse as it was; the daemon re-executes it with the same
# offsets (instance setting `run_retries`), so its events are not left unscored behind the sensor's cursor
LIVE_RUN_RETRIES = 3

live_jobs = [
    dg.define_asset_job(
        sport.job_name,
        selection=dg.AssetSelection.assets(scoring),
        executor_def=dg.in_process_executor,
        description=f"Score one slice of Kafka offsets (launched by {sport.sensor_name}); a failed run is "
        f"retried up to {LIVE_RUN_RETRIES} times. It skips the run queue when no other run of the job waits "
        "or runs (orchestration/run_coordinator.py).",
        run_tags={"dagster/max_retries": str(LIVE_RUN_RETRIES), FAST_LANE_TAG: "true"},
    )
    for sport, scoring in ((NFL, nfl_live_scoring), (NBA, nba_live_scoring))
]

defs = dg.Definitions(
    assets=[NFL_TOPIC_SPEC, nfl_live_scoring, NBA_TOPIC_SPEC, nba_live_scoring],
    jobs=live_jobs,
    sensors=[nfl_plays_sensor, nba_actions_sensor],
    resources={
        "warehouse": Warehouse(path=str(warehouse_path())),
        "kafka": Kafka(bootstrap=bootstrap_from_env()),
    },
)
