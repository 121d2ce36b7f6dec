"""Scheduled retraining and retraining on new data, evaluated the way the daemon evaluates them."""

import datetime as dt
import time

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.utils import make_new_run_id
from dagster._utils.schedules import cron_string_iterator

from orchestration.definitions import defs
from sensors.schedules import RAW_NFL, RETRAIN_CRON
from sensors.schedules import nfl_marts_on_new_seasons as marts_on_new_seasons
from sensors.schedules import nfl_weekly_retrain as weekly_retrain

MODELS = {dg.AssetKey(["ml", name]) for name in ("nfl_wp_model", "nfl_wp_baseline_model", "nfl_score_model")}
MART = dg.AssetKey(["marts", "nfl_wp_features"])


def test_weekly_schedule_runs_the_retraining_job_in_season():
    assert RETRAIN_CRON == "0 6 * 9-12,1-2 2"
    assert weekly_retrain.default_status == dg.DefaultScheduleStatus.RUNNING
    assert weekly_retrain.job_name == "retrain_nfl_models"
    job = defs.resolve_job_def(weekly_retrain.job_name)
    assert set(job.asset_layer.executable_asset_keys) >= MODELS
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 24, 6, tzinfo=dt.UTC))
    [request] = weekly_retrain.evaluate_tick(context).run_requests
    assert request.tags["dagster/schedule_name"] == "weekly_nfl_retrain"
    # it fires on Tuesdays 06:00 New York time, September to February only
    fire_times = cron_string_iterator(dt.datetime(2026, 3, 1).timestamp(), RETRAIN_CRON, "America/New_York")
    first, second = next(fire_times), next(fire_times)
    assert (first.month, first.day, first.weekday(), first.hour) == (9, 1, 1, 6)
    assert (second - first).days == 7


def test_new_mart_data_requests_retraining_of_every_model():
    instance = dg.DagsterInstance.ephemeral()
    selection = dg.AssetSelection.assets(*MODELS)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection)
    for key in MODELS:  # the first evaluation: models never materialized, but the mart is missing too
        assert first.get_num_requested(key) == 0

    for key in (MART, *MODELS):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    settled = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection, cursor=first.cursor
    )
    assert all(settled.get_num_requested(key) == 0 for key in MODELS)

    instance.report_runless_asset_event(dg.AssetMaterialization(MART))  # a dbt build wrote new mart rows
    updated = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection, cursor=settled.cursor
    )
    assert {key for key in MODELS if updated.get_num_requested(key) == 1} == MODELS


def test_new_raw_seasons_request_one_dbt_build_after_ingest_finishes():
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor: str | None):
        return marts_on_new_seasons.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))

    assert tick(None).run_requests == [] and "no new raw season" in tick(None).skip_message
    for partition in ("2022", "2023"):
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_NFL[2], partition=partition))
    ingesting = instance.add_run(
        dg.DagsterRun(job_name="nfl_ingest", run_id=make_new_run_id(), status=dg.DagsterRunStatus.STARTED)
    )
    assert "waiting for the running ingest" in tick(None).skip_message

    instance.handle_run_event(  # the backfill's last run ends
        ingesting.run_id,
        dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value, job_name="nfl_ingest", message="done"),
    )
    result = tick(None)
    [request] = result.run_requests
    assert result.cursor and request.run_key == f"raw-nfl-{result.cursor}"
    assert tick(result.cursor).run_requests == []  # nothing new since that build


def test_an_asset_backfill_of_raw_seasons_is_waited_for_too():
    """The UI's *Materialize* of raw assets runs as `__ASSET_JOB`, and an asset backfill launches a downstream
    raw asset's runs only once its upstream's are done: neither may let a dbt build start mid-ingest."""
    instance = dg.DagsterInstance.ephemeral()

    def tick():
        return marts_on_new_seasons.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None))

    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_NFL[0], partition="2022"))
    asset_run = instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB", run_id=make_new_run_id(), status=dg.DagsterRunStatus.STARTED,
            asset_selection=frozenset(RAW_NFL),
        )
    )  # fmt: skip
    assert "waiting for the running ingest" in tick().skip_message
    instance.handle_run_event(
        asset_run.run_id,
        dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value, job_name="__ASSET_JOB", message="done"),
    )
    backfill = PartitionBackfill(
        backfill_id="rawnfl", status=BulkActionStatus.REQUESTED, from_failure=False, tags={},
        backfill_timestamp=time.time(), asset_selection=list(RAW_NFL),
    )  # fmt: skip
    instance.add_backfill(backfill)
    assert "waiting for the running ingest" in tick().skip_message  # between the backfill's runs
    instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_SUCCESS))
    assert len(tick().run_requests) == 1


def test_marts_built_outside_the_sensor_need_no_new_build():
    """`playcast demo` ingests and builds in-process: the first `playcast ui` must not build (and retrain)
    again."""
    instance = dg.DagsterInstance.ephemeral()

    def tick():
        return marts_on_new_seasons.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None))

    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_NFL[1], partition="2023"))
    instance.report_runless_asset_event(dg.AssetMaterialization(MART))  # the demo's dbt build
    assert tick().run_requests == [] and "no new raw season" in tick().skip_message
    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_NFL[1], partition="2022"))
    assert len(tick().run_requests) == 1  # a season ingested after that build


def test_playcast_train_runs_the_sports_retraining_job(monkeypatch):
    """`playcast train <sport>` reaches the job runner (the run itself is the retraining job tested above)."""
    from orchestration import cli

    started = []
    monkeypatch.setattr(cli, "dagster_home", lambda: None)
    monkeypatch.setattr(cli, "train", started.append)
    assert cli.main(["train", "nba"]) == 0 and cli.main(["train", "nfl"]) == 0
    assert started == ["nba", "nfl"]
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {f"retrain_{sport}_models" for sport in started} <= jobs


def test_training_holds_the_warehouse_pool_only_to_read_and_register(nfl_warehouse, tmp_path, monkeypatch):
    """Live micro-batches wait for the `warehouse` pool: training (minutes) must not hold it, only the two
    steps that open the warehouse do. One run materializes a registered version and a check per model."""
    import os
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    import duckdb

    from assets import training
    from assets.training import nfl_model_assets
    from orchestration.resources import ModelStore, Warehouse

    nice = min(os.getpriority(os.PRIO_PROCESS, 0) + 5, 19)  # above pytest's own, whatever the environment
    monkeypatch.setattr(training, "TRAINING_NICENESS", nice)

    pools = {node.definition.name: node.definition.pool for node in nfl_model_assets.node_def.nodes}
    assert pools == {
        "read_nfl_training_rows": "warehouse",
        "train_nfl_wp": None,
        "train_nfl_wp_baseline": None,
        "train_nfl_score": None,
        "register_nfl_models": "warehouse",
    }

    warehouse = tmp_path / "playcast.duckdb"
    shutil.copy(nfl_warehouse, warehouse)
    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "dagster"))
    # what failed runs left: one deleted from the instance (removed now), one that failed just now (kept)
    failed = instance.add_run(dg.DagsterRun(job_name="retrain_nfl_models", run_id=make_new_run_id()))
    instance.report_run_failed(failed)
    leftovers = {run_id: tmp_path / "dagster" / "storage" / run_id / "training" / "nfl"
                 for run_id in (make_new_run_id(), failed.run_id)}  # fmt: skip
    for folder in leftovers.values():
        folder.mkdir(parents=True)
        (folder / "rows.parquet").write_bytes(b"left behind")
    store = tmp_path / "store"
    resources = {"warehouse": Warehouse(path=str(warehouse)), "model_store": ModelStore(path=str(store))}
    assets = [nfl_model_assets]
    with ThreadPoolExecutor(1) as thread:  # the training lowers its thread's CPU priority: not pytest's
        run = thread.submit(dg.materialize, assets, resources=resources, instance=instance).result()
    assert os.getpriority(os.PRIO_PROCESS, 0) < nice
    messages = [e.user_message for e in instance.all_logs(run.run_id)]
    niced = [m for m in messages if m.startswith(f"training at nice {nice}")]
    assert len(niced) == 1  # the first training step; the thread keeps it for the others

    materializations = run.asset_materializations_for_node("nfl_models")
    versions = {m.asset_key: m.metadata["version"].value for m in materializations}
    assert versions == {key: f"{key.path[1].removesuffix('_model')}@1" for key in MODELS}
    plots = {m.asset_key.path[1]: m.metadata["calibration plot"].value for m in materializations
             if "calibration plot" in m.metadata}  # fmt: skip
    assert sorted(plots) == ["nfl_wp_baseline_model", "nfl_wp_model"]  # drawn by the training steps
    assert all(p.startswith("![calibration](data:image/png;base64,iVBORw0KGgo") for p in plots.values())
    checks = {(e.asset_key, e.check_name, e.passed) for e in run.get_asset_check_evaluations()}
    assert checks == {(key, "no_regression_vs_champion", True) for key in MODELS}  # no champion yet
    handed_over = tmp_path / "dagster" / "storage" / run.run_id / "training"
    assert handed_over.is_dir() and not (handed_over / "nfl").exists()  # the steps' files are removed
    assert [folder.exists() for folder in leftovers.values()] == [False, True]
    training._remove_stale_scratch(dg.build_op_context(instance=instance), "nfl", kept_seconds=0)
    assert not leftovers[failed.run_id].exists()  # once it is older than that
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        registered = con.execute(
            "select model_name, version, is_champion from ml.model_registry order by 1"
        ).fetchall()
    finally:
        con.close()
    assert registered == [(n, 1, True) for n in ("nfl_score", "nfl_wp", "nfl_wp_baseline")]
    for name, *_ in registered:
        assert (store / name / "v0001" / "card.json").exists()
