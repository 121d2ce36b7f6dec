"""Live scoring: one micro-batch run turns a slice of Kafka offsets into win-probability predictions.

One op materializes three assets (events → features → predictions) in one warehouse transaction; the
offsets come from the sensor (sensors/kafka.py) through run config, so a run is defined by its offsets.
"""

import dagster as dg

from live.microbatch import process_batch
from models.predict import NflPredictor
from orchestration.resources import Kafka, Warehouse
from stream import NFL_TOPIC
from stream.offsets import cluster_id, read_ranges
from warehouse.dbt_sql import live_nfl_features_sql

TOPIC = dg.AssetSpec(
    ["kafka", "playcast_nfl_plays"],
    description=f"Kafka topic `{NFL_TOPIC}`: NFL play events (stream/events.py), keyed by game_id.",
    group_name="nfl_live",
    kinds={"kafka"},
)
EVENTS = dg.AssetKey(["live", "nfl_events"])
FEATURES = dg.AssetKey(["live", "nfl_wp_features"])
PREDICTIONS = dg.AssetKey(["live", "nfl_win_probability"])


class OffsetRanges(dg.Config):
    """The slice of the topic a run consumes: partition → [start, end) offsets."""

    cluster: str  # the Kafka cluster id the offsets belong to
    topic: str = NFL_TOPIC
    ranges: dict[str, list[int]]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            EVENTS,
            deps=[TOPIC.key],
            description="live.events (every record, keyed by topic/partition/"
            "offset), live.dead_letters (rejected, with the reason) and live.nfl_plays (decoded plays).",
        ),
        dg.AssetSpec(
            FEATURES,
            deps=[EVENTS, dg.AssetKey(["raw", "nfl_games"])],
            description="Mart features of every live play, from the same SQL as marts.nfl_wp_features.",
        ),
        dg.AssetSpec(
            PREDICTIONS,
            deps=[FEATURES, dg.AssetKey(["ml", "nfl_wp_model"]), dg.AssetKey(["ml", "nfl_score_model"])],
            description="Home win probability and predicted final scores per live play, with the "
            "model version, run and Kafka offsets that produced each row.",
        ),
    ],
    name="score_nfl_microbatch",
    group_name="nfl_live",
    pool="warehouse",
)
def nfl_live_scoring(
    context: dg.AssetExecutionContext, config: OffsetRanges, kafka: Kafka, warehouse: Warehouse
):
    ranges = {int(p): (start, end) for p, (start, end) in config.ranges.items()}
    current = cluster_id(kafka.bootstrap)
    if current != config.cluster:
        raise dg.Failure(
            f"Kafka at {kafka.bootstrap} is cluster {current}, but these offsets belong to {config.cluster} "
            "(the broker was replaced or restarted in memory): they cannot be read any more"
        )
    records = read_ranges(kafka.bootstrap, config.topic, ranges)
    with warehouse.connect() as con:
        predictor = NflPredictor.from_registry(con)
        result = process_batch(
            con, records, context.run.run_id, predictor, live_nfl_features_sql(), config.cluster
        )
    offsets = {f"{config.topic}[{p}]": f"{s}-{e}" for p, (s, e) in sorted(ranges.items())}
    dead = sum(result.dead_letters.values())
    context.log.info(
        f"{result.events} events ({result.new_events} new, {dead} dead letters), {len(result.games)} games, "
        f"{result.new_predictions} new and {result.revised_predictions} revised predictions"
    )
    yield dg.MaterializeResult(
        asset_key=EVENTS,
        metadata={"offsets": offsets, "events": result.events, "new_events": result.new_events,
                  "dead_letters": dg.MetadataValue.json(result.dead_letters),
                  "duplicate_plays": result.duplicate_plays},
    )  # fmt: skip
    yield dg.MaterializeResult(
        asset_key=FEATURES, metadata={"games": len(result.games), "game_ids": result.games}
    )
    latency = {f"latency_p{q}_s": result.latency(q / 100) for q in (50, 95)}
    yield dg.MaterializeResult(
        asset_key=PREDICTIONS,
        metadata={"model_version": predictor.model_version, "new_predictions": result.new_predictions,
                  "revised_predictions": result.revised_predictions,
                  **{k: v for k, v in latency.items() if v is not None}},
    )  # fmt: skip
