"""Live scoring end to end: a real broker, the sensor, micro-batch runs, the warehouse and the champions."""

import itertools
import json
import os
import shutil
import signal
import time
from functools import partial

import dagster as dg
import duckdb
import pyarrow as pa
import pytest
from dagster._core.utils import make_new_run_id

from live.microbatch import process_batch
from live.sports import NFL
from models.predict import NflPredictor
from orchestration.resources import Kafka
from orchestration.run_launcher import PID_TAG
from sensors import kafka as kafka_sensor
from stream import NFL_TOPIC
from stream.broker import LocalBroker
from stream.events import encode
from stream.offsets import cluster_id, read_ranges
from stream.replay import load_game, replay_nfl, season_game_ids
from tests import live_helpers
from tests.kafka_fixtures import free_port
from tests.pipeline import dagster_home, query, running_daemon

GAME = "2021_01_BAL_LV"  # Monday night, week 1 2021: went to overtime
OTHER = "2020_01_HOU_KC"
# every mart column is a feature or label the live path must reproduce
PARITY = "select * exclude (description) from {} where game_id in ('{}')"


@pytest.fixture
def broker():
    with LocalBroker(f"127.0.0.1:{free_port()}") as running:
        yield running.bootstrap


@pytest.fixture
def warehouse(scored_warehouse, tmp_path):
    path = tmp_path / "playcast.duckdb"
    shutil.copy(scored_warehouse, path)
    return path


score_new_offsets = partial(live_helpers.score_new_offsets, NFL)
publish = partial(live_helpers.publish, NFL)


def test_a_replayed_game_is_scored_with_the_marts_features_and_lineage(broker, warehouse, data_mirror):
    replay_nfl(broker, [GAME, OTHER], speed="max", mirror=data_mirror)
    instance = dg.DagsterInstance.ephemeral()
    pa.set_memory_pool(pa.mimalloc_memory_pool())  # pyarrow's default; a scoring run switches its process's
    tick, runs = score_new_offsets(broker, warehouse, instance)
    assert pa.default_memory_pool().backend_name == "system"
    [request] = tick.run_requests
    assert request.run_key.startswith(cluster_id(broker) + "/playcast.nfl.plays:")
    assert all(run.success for run in runs)

    # parity: the live features of every play equal the mart's, column by column
    for game in (GAME, OTHER):
        live = query(warehouse, PARITY.format("live.nfl_wp_features", game) + " except " + PARITY.format(
            "marts.nfl_wp_features", game))  # fmt: skip
        mart = query(warehouse, PARITY.format("marts.nfl_wp_features", game) + " except " + PARITY.format(
            "live.nfl_wp_features", game))  # fmt: skip
        assert live == [] and mart == []
    [(predicted, plays, versions, offsets_ok)] = query(
        warehouse,
        """select count(*),
                  (select count(*) from marts.nfl_wp_features where game_id = ? and posteam is not null),
                  list(distinct model_version), bool_and("offset" >= 0 and run_id is not null)
           from live.nfl_win_probability where game_id = ?""",
        [GAME, GAME],
    )
    assert predicted == plays > 150 and versions == ["nfl_wp@1+nfl_score@1"] and offsets_ok
    # a prediction traces back to its record and the play decoded from it
    [(traced, total)] = query(
        warehouse,
        """select count(*) filter (where e.status = 'play' and p.play_id = w.play_id), count(*)
           from live.nfl_win_probability w
           left join live.events e using (source, "topic", "partition", "offset")
           left join live.nfl_plays p using (source, "topic", "partition", "offset")
           where w.game_id = ?""",
        [GAME],
    )
    assert traced == total == predicted
    # the feed's long text is stored with zstd (live/tables.py), by the run's checkpoint
    assert query(
        warehouse,
        "select distinct column_name, compression from pragma_storage_info('live.nfl_plays') "
        "where column_name in ('stats', 'description') and segment_type = 'VARCHAR' order by 1",
    ) == [("description", "ZSTD"), ("stats", "ZSTD")]

    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in runs[0].get_asset_materialization_events()
    }
    assert events["live/nfl_events"]["events"].value == len(load_game(GAME, data_mirror)) + len(
        load_game(OTHER, data_mirror)
    )
    assert events["live/nfl_win_probability"]["model_version"].value == "nfl_wp@1+nfl_score@1"
    assert events["live/nfl_win_probability"]["latency_p95_s"].value > 0
    stages = events["live/nfl_win_probability"]["seconds"].value  # where the run's time went
    assert set(stages) == {"read_and_store", "features", "predict", "commit"} and min(stages.values()) >= 0

    again, reruns = score_new_offsets(broker, warehouse, instance, cursor=tick.cursor)
    assert again.run_requests == [] and reruns == [] and "no new events" in again.skip_message


def test_the_sensor_waits_while_a_run_of_its_job_is_queued_then_takes_every_new_offset(broker, data_mirror):
    plays = load_game(GAME, data_mirror)
    instance = dg.DagsterInstance.ephemeral()
    kafka = Kafka(bootstrap=broker)

    def tick(cursor):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"kafka": kafka})
        return kafka_sensor.nfl_plays_sensor.evaluate_tick(context)

    publish(broker, plays[:30])
    first = tick(None)
    assert len(first.run_requests) == 1
    queued = instance.add_run(  # its run, not started yet (the machine is busy)
        dg.DagsterRun(job_name=NFL.job_name, run_id=make_new_run_id(), status=dg.DagsterRunStatus.NOT_STARTED)
    )
    publish(broker, plays[30:50])
    waiting = tick(first.cursor)
    assert waiting.run_requests == [] and "has not started yet" in waiting.skip_message
    publish(broker, plays[50:80])
    instance.report_run_canceled(queued)  # no longer waiting (started, or here: canceled)
    [batched] = tick(waiting.cursor or first.cursor).run_requests
    ranges = batched.run_config["ops"][NFL.op_name]["config"]["ranges"]
    assert sum(end - start for start, end in ranges.values()) == 50  # both publishes in one run


def test_the_sensor_skips_a_tick_when_the_broker_is_unreachable():
    nobody = f"127.0.0.1:{free_port()}"
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), resources={"kafka": Kafka(bootstrap=nobody)}
    )
    tick = kafka_sensor.nfl_plays_sensor.evaluate_tick(context)
    assert tick.run_requests == [] and f"Kafka at {nobody} not readable" in tick.skip_message
    name = tick.skip_message.split("not readable: ")[1].split(":")[0]  # e.g. KafkaTimeoutError, said once
    assert tick.skip_message.count(name) == 1, tick.skip_message
    assert tick.cursor is None  # nothing consumed, nothing skipped over


def test_duplicates_malformed_unknown_games_and_late_plays(broker, warehouse, data_mirror, monkeypatch):
    plays = load_game(GAME, data_mirror)
    late = plays.pop(40)  # a touchdown drive's play arrives after everything else
    unknown = {**plays[0], "game_id": "2021_01_XXX_YYY"}
    publish(broker, plays[:100] + plays[90:100])  # ten plays twice
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.setattr(kafka_sensor, "MAX_EVENTS", 60)
    tick, runs = score_new_offsets(broker, warehouse, instance)
    assert len(runs) >= 2 and all(r.success for r in runs)
    publish(broker, [*plays[100:], late], extra=[(b"x", b"{not json"), (b"2021_01_XXX_YYY", encode(unknown))])
    tick, runs = score_new_offsets(broker, warehouse, instance, cursor=tick.cursor)
    assert all(r.success for r in runs)
    revised = sum(
        e.materialization.metadata["revised_predictions"].value
        for r in runs
        for e in r.get_asset_materialization_events()
        if e.asset_key.path[-1] == "nfl_win_probability"
    )
    assert revised > 0  # the late play changed the state of the plays after it
    one_by_one = sum(
        e.materialization.metadata["decoded_one_by_one"].value
        for r in runs
        for e in r.get_asset_materialization_events()
        if e.asset_key.path[-1] == "nfl_events"
    )
    assert 1 <= one_by_one < 70  # the bad JSON's chunk, not the batch, went to the one-by-one decoder

    dead = query(warehouse, "select reason from live.dead_letters order by reason")
    assert [r[0].split(" (")[0].split(":")[0] for r in dead] == [
        "not JSON",
        "unknown game_id '2021_01_XXX_YYY'",
    ]
    [(rows, distinct)] = query(
        warehouse,
        "select count(*), count(distinct play_id) from live.nfl_win_probability where game_id = ?",
        [GAME],
    )
    assert (
        rows
        == distinct
        == query(
            warehouse,
            "select count(*) from marts.nfl_wp_features where game_id = ? and posteam is not null",
            [GAME],
        )[0][0]
    )
    # after the late play, every feature equals the mart's (nothing lost, nothing stale)
    assert query(warehouse, PARITY.format("live.nfl_wp_features", GAME) + " except " + PARITY.format(
        "marts.nfl_wp_features", GAME)) == []  # fmt: skip


def test_same_offsets_again_change_nothing_and_a_failed_batch_leaves_no_trace(broker, warehouse, data_mirror):
    replay_nfl(broker, [GAME], speed="max", mirror=data_mirror)
    records = read_ranges(broker, NFL_TOPIC, _all(broker))
    source = cluster_id(broker)
    snapshot = "select count(*), sum(hash(w)) from live.nfl_win_probability w"
    con = duckdb.connect(str(warehouse))
    try:
        predictor = NflPredictor.from_registry(con)
        with pytest.raises(duckdb.Error):  # a batch that fails half-way (here: its feature SQL is broken)
            process_batch(con, [records], "run-broken", predictor, "select nope", source, NFL)
        tables = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'live'"
        ).fetchall()
        assert tables == [(0,)]  # the failed batch left nothing behind, not even its tables

        from warehouse.dbt_sql import live_nfl_features_sql

        first = process_batch(con, [records], "run-1", predictor, live_nfl_features_sql(), source, NFL)
        before = con.execute(snapshot).fetchall()
        second = process_batch(con, [records], "run-2", predictor, live_nfl_features_sql(), source, NFL)
        after = con.execute(snapshot).fetchall()
    finally:
        con.close()
    assert first.new_events == len(records) and first.new_predictions > 150
    assert (second.new_events, second.new_predictions, second.revised_predictions) == (0, 0, 0)
    assert before == after


def test_a_rows_table_made_before_zstd_was_declared_is_copied_into_one_that_declares_it(tmp_path):
    from live.tables import _rows_ddl, ensure_live_tables

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("create schema live")
    con.execute(_rows_ddl(NFL).replace(" using compression zstd", ""))
    con.execute(
        'insert into live.nfl_plays (game_id, play_id, stats, source, topic, partition, "offset", run_id, '
        "received_at) values ('g', 1, '[]', 'c', 't', 0, 7, 'r', now())"
    )
    ensure_live_tables(con, NFL, "select 1 as x")
    ensure_live_tables(con, NFL, "select 1 as x")  # the second time: nothing to do
    [(sql,)] = con.execute("select sql from duckdb_tables() where table_name = 'nfl_plays'").fetchall()
    rows = con.execute('select game_id, play_id, stats, "offset" from live.nfl_plays').fetchall()
    tables = con.execute("select table_name from duckdb_tables() where schema_name = 'live'").fetchall()
    assert all(f"{c} VARCHAR USING COMPRESSION ZSTD" in sql for c in ("stats", "description", "pre_play"))
    assert rows == [("g", 1, "[]", 7)]
    assert ("nfl_plays_before_zstd",) not in tables


def _all(bootstrap):
    from stream.offsets import high_watermarks

    return {p: (0, end) for p, end in high_watermarks(bootstrap, NFL_TOPIC, {}).items() if end}


def test_a_restarted_in_memory_broker_starts_a_new_cursor(warehouse, data_mirror):
    instance = dg.DagsterInstance.ephemeral()
    port = free_port()
    with LocalBroker(f"127.0.0.1:{port}") as first:
        replay_nfl(first.bootstrap, [OTHER], speed="max", mirror=data_mirror)
        tick, _ = score_new_offsets(first.bootstrap, warehouse, instance)
    with LocalBroker(f"127.0.0.1:{port}") as second:  # same address, new log
        replay_nfl(second.bootstrap, [GAME], speed="max", mirror=data_mirror)
        again, runs = score_new_offsets(second.bootstrap, warehouse, instance, cursor=tick.cursor)
    assert json.loads(again.cursor)["cluster"] != json.loads(tick.cursor)["cluster"]
    assert [r.success for r in runs] == [True]
    games = query(warehouse, "select game_id, count(*) from live.nfl_win_probability group by 1 order by 1")
    assert [g for g, _ in games] == [OTHER, GAME]


def count_plays(warehouse) -> int:
    try:
        return query(warehouse, "select count(*) from live.nfl_plays")[0][0]
    except duckdb.Error:  # not created yet, or a run holds the file for a moment
        return -1


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return False


def test_the_daemon_scores_new_plays_and_resumes_from_its_cursor_after_a_restart(
    broker, warehouse, data_mirror, tmp_path, monkeypatch
):
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's storage finds its files through it
    env = {**os.environ, "DAGSTER_HOME": str(home), "PLAYCAST_WAREHOUSE": str(warehouse),
           "PLAYCAST_KAFKA_BOOTSTRAP": broker}  # fmt: skip
    plays = load_game(GAME, data_mirror)
    for batch, target in ((plays[:60], 60), (plays[60:], len(plays))):  # the daemon stops in between
        publish(broker, batch)
        with running_daemon(env):
            reached = wait_for(lambda target=target: count_plays(warehouse) == target, 150)
        assert reached, f"{count_plays(warehouse)} plays stored, expected {target}"

    instance = dg.DagsterInstance.from_config(str(home))
    runs = instance.get_runs(dg.RunsFilter(job_name="nfl_live_scoring"))
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert all(PID_TAG in r.tags for r in runs)  # launched by the instance's forking run launcher
    # the first, alone when the sensor submitted it, was launched at once, not through the run queue
    first = min(runs, key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
    assert not instance.all_logs(first.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)
    assert instance.all_logs(first.run_id, of_type=dg.DagsterEventType.RUN_STARTING)
    # the runs' offset ranges tile the topic: every offset scored by exactly one run
    covered = sorted(
        (int(p), int(start), int(end))
        for r in runs
        for p, (start, end) in r.run_config["ops"]["score_nfl_microbatch"]["config"]["ranges"].items()
    )
    by_partition: dict[int, list[tuple[int, int]]] = {}
    for partition, start, end in covered:
        by_partition.setdefault(partition, []).append((start, end))
    for spans in by_partition.values():
        assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert sum(end - start for _, start, end in covered) == len(plays)
    [(predicted, distinct)] = query(
        warehouse,
        "select count(*), count(distinct play_id) from live.nfl_win_probability where game_id = ?",
        [GAME],
    )
    assert predicted == distinct == len(plays) - sum(1 for p in plays if p["play_type"] == "GAME_START")


def holds_the_warehouse(path) -> bool:
    """Whether another process has the warehouse file open (a run inside its batch)."""
    try:
        duckdb.connect(str(path), read_only=True).close()
        return False
    except duckdb.IOException as error:
        if "lock" not in str(error):
            raise
        return True


def test_a_run_killed_mid_batch_leaves_nothing_and_its_automatic_retry_scores_every_play(
    broker, warehouse, data_mirror, tmp_path, monkeypatch
):
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    env = {**os.environ, "DAGSTER_HOME": str(home), "PLAYCAST_WAREHOUSE": str(warehouse),
           "PLAYCAST_KAFKA_BOOTSTRAP": broker}  # fmt: skip
    games = season_game_ids(2021, data_mirror)[:16]  # 2,911 plays: a batch that takes a moment
    published = replay_nfl(broker, games, speed="max", mirror=data_mirror).events
    instance = dg.DagsterInstance.from_config(str(home))
    with running_daemon(env):
        deadline = time.monotonic() + 120
        while not (runs := instance.get_runs(dg.RunsFilter(job_name=NFL.job_name))):
            assert time.monotonic() < deadline, "the sensor launched no run"
            time.sleep(0.2)
        (killed,) = runs
        while not holds_the_warehouse(warehouse):  # the run has opened the warehouse: its batch is under way
            killed = instance.get_run_by_id(killed.run_id)
            assert not killed.is_finished and time.monotonic() < deadline, killed.status
            time.sleep(0.02)
        os.kill(int(instance.get_run_by_id(killed.run_id).tags[PID_TAG]), signal.SIGKILL)
        scored = wait_for(lambda: count_plays(warehouse) == published, 120)
    assert scored, f"{count_plays(warehouse)} of {published} events stored"

    runs = instance.get_runs(dg.RunsFilter(job_name=NFL.job_name))
    (retry,) = [r for r in runs if r.parent_run_id == killed.run_id]
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert retry.status == dg.DagsterRunStatus.SUCCESS and retry.run_config == killed.run_config
    # every offset once, all stored by the retry: the killed run left nothing behind
    [(events, offsets, writers)] = query(
        warehouse,
        'select count(*), count(distinct ("partition", "offset")), list(distinct run_id) from live.events',
    )
    assert events == offsets == published and writers == [retry.run_id]
    [(predicted, distinct, plays)] = query(
        warehouse,
        "select count(*), count(distinct (game_id, play_id)), "
        "(select count(*) from live.nfl_plays where play_type <> 'GAME_START') from live.nfl_win_probability",
    )
    assert predicted == distinct == plays > 0
