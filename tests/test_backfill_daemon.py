"""A season backfill as a user launches it (`dagster job backfill`), run by the real daemon, pool-limited,
followed by the automation it sets off: dbt rebuilds the marts and the models retrain."""

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq

from tests.pipeline import dagster_home, running_daemon, step_intervals

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SEASONS = ("2019", "2022")
MODEL = dg.AssetKey(["ml", "nfl_wp_model"])


def test_backfill_of_two_seasons_then_automatic_dbt_build_and_retraining(tmp_path, data_mirror, monkeypatch):
    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's storage finds its files through it
    warehouse = tmp_path / "playcast.duckdb"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PLAYCAST_WAREHOUSE": str(warehouse),
        "PLAYCAST_DATA_MIRROR": str(data_mirror),
        "PLAYCAST_MODEL_STORE": str(tmp_path / "model_store"),
    }
    workspace = ["-w", str(REPO_ROOT / "workspace.yaml")]
    launch = [
        BIN / "dagster",
        "job",
        "backfill",
        "-l",
        "playcast",
        "-j",
        "nfl_ingest",
        "--partitions",
        ",".join(SEASONS),
    ]
    done = subprocess.run(
        [*launch, *workspace, "--noprompt"], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Launched backfill job" in done.stdout

    instance = dg.DagsterInstance.from_config(str(home))
    with running_daemon(env):
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline:
            runs = instance.get_runs()
            trained = instance.get_latest_materialization_event(MODEL) is not None
            if trained and all(r.is_finished for r in runs):
                break
            time.sleep(2)

    all_runs = instance.get_runs()
    runs = [r for r in all_runs if "dagster/backfill" in r.tags]
    automated = [r for r in all_runs if "dagster/backfill" not in r.tags]
    assert automated, "the automation sensor launched no run after the backfill"
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in automated), [r.status for r in automated]
    for key in (["marts", "nfl_wp_features"], ["ml", "nfl_wp_model"], ["ml", "nfl_score_model"]):
        assert instance.get_latest_materialization_event(dg.AssetKey(key)) is not None, key
    assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(SEASONS)
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * len(SEASONS)

    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = dict(con.execute("select season, count(*) from raw.nfl_pbp group by 1").fetchall())
    marts = dict(con.execute("select season, count(*) from marts.nfl_wp_features group by 1").fetchall())
    registered = con.execute("select model_name, version from ml.model_registry order by 1").fetchall()
    con.close()
    assert set(marts) == {int(s) for s in SEASONS}
    assert registered == [("nfl_score", 1), ("nfl_wp", 1), ("nfl_wp_baseline", 1)]
    subset = data_mirror / "nfl" / "nflverse_pbp_subset"
    assert loaded == {int(s): pq.ParquetFile(subset / f"pbp_{s}.parquet").metadata.num_rows for s in SEASONS}

    # the `warehouse` pool (limit 1) let no two writing steps of the two runs overlap
    intervals = sorted(i for r in runs for i in step_intervals(instance, r.run_id))
    assert len(intervals) == 3 * len(SEASONS)
    overlaps = [(a[2], b[2]) for a, b in itertools.pairwise(intervals) if b[0] < a[1]]
    assert overlaps == []
