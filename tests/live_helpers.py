"""Live-path test helpers shared by both sports: publish rows as events, score what the sensor finds."""

import dagster as dg
from kafka import KafkaProducer

from assets import scoring
from live.sports import Sport
from orchestration.resources import Kafka, Warehouse
from sensors import kafka as kafka_sensor


def score_new_offsets(sport: Sport, bootstrap, warehouse, instance, cursor=None):
    """One tick of the sport's sensor against the broker, then every run it requested, as Dagster runs."""
    resources = {"kafka": Kafka(bootstrap=bootstrap), "warehouse": Warehouse(path=str(warehouse))}
    sensor = getattr(kafka_sensor, sport.sensor_name)
    tick = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=cursor, resources={"kafka": resources["kafka"]})
    )
    asset = getattr(scoring, f"{sport.name}_live_scoring")
    runs = [
        dg.materialize([asset], run_config=r.run_config, resources=resources, instance=instance)
        for r in tick.run_requests
    ]
    return tick, runs


def publish(sport: Sport, bootstrap, rows, extra=()):
    """Raw-table rows as the sport's events keyed by game id, then `extra` (key, value) records as is."""
    game = sport.events.id_fields[0]
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for row in rows:
        producer.send(sport.topic, key=str(row[game]).encode(), value=sport.events.encode(row))
    for key, value in extra:
        producer.send(sport.topic, key=key, value=value)
    producer.flush()
    producer.close()
