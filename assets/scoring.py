"""Live scoring: one micro-batch run turns a slice of Kafka offsets into win-probability predictions.

One op per sport materializes three assets (events → features → predictions) in one warehouse transaction;
the offsets come from the sensor (sensors/kafka.py) through run config, so a run is defined by its offsets.
NBA runs also report their momentum alerts (up to PLAYCAST_ALERT_OBSERVATIONS) as observations of the
predictions asset.
"""

from collections.abc import Sequence

import dagster as dg

from live.alerts import observations_per_run
from live.microbatch import process_batch, use_system_allocator
from live.sports import NBA, NFL, Sport
from orchestration.resources import Kafka, Warehouse
from stream.offsets import ReadAhead, cluster_id, iter_ranges


class OffsetRanges(dg.Config):
    """The slice of the topic a run consumes: partition → [start, end) offsets."""

    cluster: str  # the Kafka cluster id the offsets belong to
    topic: str
    ranges: dict[str, list[int]]


def topic_spec(sport: Sport) -> dg.AssetSpec:
    return dg.AssetSpec(
        ["kafka", sport.topic.replace(".", "_")],
        description=f"Kafka topic `{sport.topic}`: `{sport.events.schema}` events, keyed by game id.",
        group_name=f"{sport.name}_live",
        kinds={"kafka"},
    )


def live_scoring_asset(sport: Sport, models: Sequence[str]) -> dg.AssetsDefinition:
    """The micro-batch multi-asset `score_<sport>_microbatch`, downstream of the games and `models`."""
    events = dg.AssetKey(["live", f"{sport.name}_events"])
    features = dg.AssetKey(["live", sport.features_table.split(".")[1]])
    predictions = dg.AssetKey(["live", sport.predictions_table.split(".")[1]])
    rows = sport.rows_table
    alerts = (
        ", momentum alerts in live.alerts (each also an observation of this asset)" if sport.alerts else ""
    )

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                events,
                deps=[topic_spec(sport).key],
                description="live.events (every record, keyed by topic/partition/offset), live.dead_letters "
                f"(rejected, with the reason) and {rows} (decoded {sport.noun}s).",
            ),
            dg.AssetSpec(
                features,
                deps=[events, dg.AssetKey(sport.games_table.split("."))],
                description=f"Mart features of every live {sport.noun}, from the same SQL as {sport.mart}.",
            ),
            dg.AssetSpec(
                predictions,
                deps=[features, *(dg.AssetKey(["ml", model]) for model in models)],
                description=f"{', '.join(sport.prediction_columns)} per live {sport.noun}, with the model "
                f"version, run and Kafka offsets that produced each row{alerts}.",
            ),
        ],
        name=sport.op_name,
        group_name=f"{sport.name}_live",
        pool="warehouse",
    )
    def score(context: dg.AssetExecutionContext, config: OffsetRanges, kafka: Kafka, warehouse: Warehouse):
        ranges = {int(p): (start, end) for p, (start, end) in config.ranges.items()}
        current = cluster_id(kafka.bootstrap)
        if current != config.cluster:
            raise dg.Failure(
                f"Kafka at {kafka.bootstrap} is cluster {current}, but these offsets belong to "
                f"{config.cluster} (the broker was replaced or restarted in memory): they cannot be read "
                "any more"
            )
        use_system_allocator()
        reading = ReadAhead(iter_ranges(kafka.bootstrap, config.topic, ranges))  # while the warehouse opens
        with reading as chunks, warehouse.connect() as con:
            predictor = sport.predictor(con)
            result = process_batch(
                con, chunks, context.run.run_id, predictor, sport.feature_sql(), config.cluster, sport
            )
        offsets = {f"{config.topic}[{p}]": f"{s}-{e}" for p, (s, e) in sorted(ranges.items())}
        dead = sum(result.dead_letters.values())
        observed = result.alerts[: observations_per_run()]
        unobserved = len(result.alerts) - len(observed)
        context.log.info(
            f"{result.events} events ({result.new_events} new, {dead} dead letters), {len(result.games)} "
            f"games, {result.new_predictions} new and {result.revised_predictions} revised predictions"
            + (f", {len(result.alerts)} alerts" if sport.alerts else "")
            + (f" ({unobserved} only in live.alerts, PLAYCAST_ALERT_OBSERVATIONS)" if unobserved else "")
        )
        yield dg.MaterializeResult(
            asset_key=events,
            metadata={"offsets": offsets, "events": result.events, "new_events": result.new_events,
                      "dead_letters": dg.MetadataValue.json(result.dead_letters),
                      "decoded_one_by_one": result.decoded_one_by_one,
                      f"duplicate_{sport.noun}s": result.duplicate_rows},
        )  # fmt: skip
        yield dg.MaterializeResult(
            asset_key=features, metadata={"games": len(result.games), "game_ids": result.games}
        )
        latency = {f"latency_p{q}_s": result.latency(q / 100) for q in (50, 95)}
        yield dg.MaterializeResult(
            asset_key=predictions,
            metadata={"model_version": predictor.model_version, "new_predictions": result.new_predictions,
                      "revised_predictions": result.revised_predictions,
                      "seconds": dg.MetadataValue.json(result.seconds),
                      **({"alerts": len(result.alerts)} if sport.alerts else {}),
                      **{k: v for k, v in latency.items() if v is not None}},
        )  # fmt: skip
        for alert in observed:
            yield dg.AssetObservation(
                asset_key=predictions,
                description=alert["detail"],
                metadata={k: v for k, v in alert.items() if v is not None},
            )

    return score


NFL_TOPIC_SPEC = topic_spec(NFL)
NBA_TOPIC_SPEC = topic_spec(NBA)
nfl_live_scoring = live_scoring_asset(NFL, ["nfl_wp_model", "nfl_score_model"])
nba_live_scoring = live_scoring_asset(NBA, ["nba_wp_model"])
