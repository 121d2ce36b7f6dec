"""The micro-batch sensors: each tick turns the new offsets of a sport's topic into scoring runs.

The cursor (JSON: the cluster id and the next offset per partition) is the source of truth; no consumer
group commits. A run's key is its cluster, topic and offset ranges, so the same slice is never scored by two
runs. A new cluster id (an in-memory broker restarted with a new log) starts the cursor over at offset 0.
"""

import json

import dagster as dg
from kafka.errors import KafkaError

from live.sports import NBA, NFL, Sport
from orchestration.resources import Kafka
from orchestration.settings import env_number
from stream import error_text
from stream.offsets import (
    CursorAheadError,
    OffsetError,
    advance,
    cluster_id,
    make_consumer,
    next_ranges,
    ranges_key,
)

# events per run: live traffic makes small slices anyway; a backlog (after an outage) catches up fastest in
# few runs (each costs a queue wait, a launch and the run's setup, and the next waits for the warehouse pool):
# 100,000 takes any NFL season in one run, at ~1.2 GB peak memory (README)
MAX_EVENTS = int(env_number("PLAYCAST_LIVE_MAX_EVENTS", 100000, integer=True, low=1))
MAX_RUNS_PER_TICK = 4
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]
# an unreachable broker: skip the tick after 3 s (kafka-python waits 30 s by default to bootstrap)
BOOTSTRAP_TIMEOUT_MS = 3000


def offsets_sensor(sport: Sport) -> dg.SensorDefinition:
    """`<sport>_<noun>s_sensor`: new offsets of the sport's topic → `<sport>_live_scoring` runs."""
    topic, op = sport.topic, sport.op_name

    @dg.sensor(
        name=sport.sensor_name,
        job_name=sport.job_name,
        minimum_interval_seconds=1,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"New offsets of `{topic}` → micro-batch scoring runs (up to PLAYCAST_LIVE_MAX_EVENTS).",
    )
    def offsets(context: dg.SensorEvaluationContext, kafka: Kafka):
        # backpressure: while a run waits in the queue (the machine is busy, e.g. retraining), new offsets
        # wait for the next tick after it starts and go into one larger run instead of queueing run after run
        queued = context.instance.get_runs(dg.RunsFilter(job_name=sport.job_name, statuses=WAITING), limit=1)
        if queued:
            return dg.SkipReason(
                f"run {queued[0].run_id} has not started yet; its successor will take the rest"
            )
        saved = json.loads(context.cursor or "{}")
        requests = []
        try:
            probe = make_consumer(kafka.bootstrap, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
            try:
                cluster = cluster_id(kafka.bootstrap, consumer=probe)
            finally:
                probe.close()
            cursor = (
                {int(p): o for p, o in saved.get("next", {}).items()}
                if saved.get("cluster") == cluster
                else {}
            )
            for _ in range(MAX_RUNS_PER_TICK):
                ranges = next_ranges(kafka.bootstrap, topic, cursor, MAX_EVENTS, timeout_s=2.0)
                if not ranges:
                    break
                key = f"{cluster}/{ranges_key(topic, ranges)}"
                config = {
                    "cluster": cluster,
                    "topic": topic,
                    "ranges": {str(p): [s, e] for p, (s, e) in ranges.items()},
                }
                requests.append(
                    dg.RunRequest(
                        run_key=key,
                        run_config={"ops": {op: {"config": config}}},
                        tags={"playcast/offsets": key},
                    )
                )
                cursor = advance(cursor, ranges)
        except CursorAheadError as error:
            context.update_cursor("{}")  # the topic was recreated: start over at 0
            return dg.SkipReason(f"cursor reset: {error}")
        except (KafkaError, OffsetError) as error:
            return dg.SkipReason(f"Kafka at {kafka.bootstrap} not readable: {error_text(error)}")
        if not requests:
            return dg.SkipReason(f"no new events on {topic}")
        context.update_cursor(
            json.dumps({"cluster": cluster, "next": {str(p): o for p, o in cursor.items()}})
        )
        return requests

    return offsets


nfl_plays_sensor = offsets_sensor(NFL)
nba_actions_sensor = offsets_sensor(NBA)
