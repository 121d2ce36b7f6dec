"""`playcast` given bad input, or running a job that fails: one message that names the cause, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration import cli
from tests.conftest import REPO_ROOT


def playcast(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )


def test_nfl_seasons_are_years_and_ranges():
    assert cli.parse_seasons("2019-2021, 2023") == [2019, 2020, 2021, 2023]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2023-2019", "seasons '2023-2019': the range is empty (first year after the last)"),
        ("abc", "season 'abc': expected a year like 2023 or a range like 2019-2023"),
        ("2019-", "season '2019-': expected a year like 2023 or a range like 2019-2023"),
        ("2019-2020-2021", "season '2019-2020-2021': expected a year like 2023 or a range like 2019-2023"),
    ],
)
def test_a_bad_season_list_is_refused_before_any_run(text, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))  # should a run start after all
    monkeypatch.setenv("PLAYCAST_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    assert cli.main(["materialize", "nfl", "--seasons", text]) == 2
    assert capsys.readouterr().err.strip() == f"playcast materialize: {message}"


def test_an_empty_query_is_refused(capsys):
    assert cli.main(["sql", "  "]) == 2
    assert "playcast sql: the query is empty" in capsys.readouterr().err


def test_the_demo_needs_a_mirror_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYCAST_DATA_MIRROR", str(tmp_path / "absent"))
    assert cli.main(["demo"]) == 2
    assert f"{tmp_path / 'absent'} is not a folder" in capsys.readouterr().err


def test_failed_runs_say_why_in_one_message(tmp_path: Path):
    env = {
        **os.environ,
        "PLAYCAST_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "PLAYCAST_DATA_MIRROR": str(tmp_path / "mirror"),
    }
    no_warehouse = playcast("train", "nfl", env=env)
    assert no_warehouse.returncode == 1
    assert "of retrain_nfl_models failed" in no_warehouse.stderr
    assert "read_nfl_training_rows: FileNotFoundError: No warehouse at" in no_warehouse.stderr

    duckdb.connect(env["PLAYCAST_WAREHOUSE"]).close()
    no_mart = playcast("train", "nfl", env=env)
    assert no_mart.returncode == 1
    assert "marts.nfl_wp_features is not in the warehouse" in no_mart.stderr
    assert "playcast materialize nfl --seasons" in no_mart.stderr

    not_in_mirror = playcast("materialize", "nfl", "--seasons", "2023", env=env)
    assert not_in_mirror.returncode == 1
    assert "of nfl_ingest failed" in not_in_mirror.stderr and str(tmp_path / "mirror") in not_in_mirror.stderr
    for done in (no_warehouse, no_mart, not_in_mirror):
        assert "Traceback" not in done.stderr + done.stdout, done.stderr
