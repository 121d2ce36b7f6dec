"""`playcast ui` serves the asset graph (partitioned raw assets, lineage to the mart), stops on Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } isPartitioned } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ui_lists_partitioned_assets_with_lineage_and_stops_cleanly(tmp_path, data_mirror):
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PLAYCAST_WAREHOUSE": str(tmp_path / "playcast.duckdb"),
        "PLAYCAST_DATA_MIRROR": str(data_mirror),
    }
    ui = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "ui", "--port", str(port)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, nodes = time.monotonic() + 120, None
        while time.monotonic() < deadline and nodes is None:
            try:
                answer = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=10)
                nodes = answer.json()["data"]["assetNodes"]
            except (requests.ConnectionError, KeyError, ValueError):
                time.sleep(1)
        assert nodes is not None, "the webserver did not answer within 120 s"
    finally:
        ui.send_signal(signal.SIGINT)
        output, _ = ui.communicate(timeout=90)

    graph = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    for raw in ("raw/nfl_pbp", "raw/nfl_games", "raw/nfl_game_feed"):
        assert graph[raw]["isPartitioned"], raw
    upstream = {key: {"/".join(d["path"]) for d in n["dependencyKeys"]} for key, n in graph.items()}
    assert "raw/nfl_game_feed" in upstream["staging/stg_nfl__game_feed"]
    assert "staging/stg_nfl__game_feed" in upstream["intermediate/int_nfl__game_state"]
    assert "intermediate/int_nfl__game_state" in upstream["marts/nfl_wp_features"]
    assert not graph["marts/nfl_wp_features"]["isPartitioned"]
    # the live location loaded too, and its lineage joins the batch location's
    assert "kafka/playcast_nfl_plays" in upstream["live/nfl_events"]
    assert "live/nfl_events" in upstream["live/nfl_wp_features"]
    scored_from = upstream["live/nfl_win_probability"]
    assert {"live/nfl_wp_features", "ml/nfl_wp_model", "ml/nfl_score_model"} <= scored_from
    assert "marts/nfl_wp_features" in upstream["ml/nfl_wp_model"]

    assert ui.returncode == 0, output[-3000:]
    for location in ("playcast", "playcast_live"):  # each code server's output stays in the instance
        log = tmp_path / "dagster_home" / "code_servers" / f"{location}.log"
        assert "Started Dagster code server" in log.read_text(), location
    servers = f"code-server start -s {tempfile.gettempdir()}/playcast-code-"  # orchestration/code_servers.py
    for process in (f"dagster-webserver.*-p {port}", servers):
        leftovers = subprocess.run(["pgrep", "-f", process], capture_output=True, text=True)
        assert leftovers.stdout == "", process


def test_an_instance_with_other_settings_is_kept_and_named(tmp_path, monkeypatch, capsys):
    from orchestration import cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    old = "run_coordinator: {}\n"  # e.g. created before playcast's run launcher existed
    (tmp_path / "dagster.yaml").write_text(old)
    assert cli.dagster_home() == tmp_path
    assert (tmp_path / "dagster.yaml").read_text() == old
    assert f"{tmp_path / 'dagster.yaml'} differs from playcast's instance settings" in capsys.readouterr().err


def test_a_code_location_that_fails_to_load_is_named_with_its_error(tmp_path):
    from orchestration.code_servers import CodeServerError, code_servers
    from tests.pipeline import dagster_home

    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - python_module:\n      module_name: no_such_module\n"
        f"      working_directory: {REPO_ROOT}\n      location_name: broken\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home(tmp_path))}
    with (
        pytest.raises(CodeServerError, match="code location broken failed to load") as error,
        code_servers(env, workspace),
    ):
        pass
    assert "No module named 'no_such_module'" in str(error.value)
