"""The live-scoring code location: the Kafka sensor and the micro-batch job, and nothing heavy.

A separate location so each micro-batch run process imports only what scoring needs (no dbt, no training):
run launch time is most of the latency from a play to its prediction. Its assets depend on the batch
location's raw games and models, so the asset graph shows one lineage across both.
"""

import dagster as dg

from assets.scoring import TOPIC, nfl_live_scoring
from orchestration.resources import Kafka, Warehouse
from sensors.kafka import nfl_plays_sensor
from stream import bootstrap_from_env
from warehouse import warehouse_path

live_job = dg.define_asset_job(
    "nfl_live_scoring",
    selection=dg.AssetSelection.assets(nfl_live_scoring),
    executor_def=dg.in_process_executor,
    description="Score one slice of Kafka offsets (launched by nfl_plays_sensor).",
)

defs = dg.Definitions(
    assets=[TOPIC, nfl_live_scoring],
    jobs=[live_job],
    sensors=[nfl_plays_sensor],
    resources={
        "warehouse": Warehouse(path=str(warehouse_path())),
        "kafka": Kafka(bootstrap=bootstrap_from_env()),
    },
)
