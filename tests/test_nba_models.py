"""NBA models on real data: artifacts reproduce after reload, registry decisions, calibration by period, and
`playcast predict nba` / `evaluate nba` on mirror files.

Fixture `nba_build` (tests/conftest.py): seasons 2023-24 and 2024-25 through Dagster, then the NBA dbt build.
Models train on 120 games of each season, to keep the test short.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.evaluate import calibration_error
from models.features import NBA_STRENGTH_INPUTS, nba_brownian_features, nba_mart_frame
from models.pipeline import SPECS, evaluate_nba_wp, train_candidate
from models.predict import NBA_OUTPUT_COLUMNS, NbaPredictor
from models.registry import champion, register, versions
from models.train import NBA_BASE_FEATURES, load_model

SLICE_GAMES = ("0022400001", "0022400002", "0022400003")  # 2024-25: out of the training games below


@pytest.fixture(scope="module")
def frame(nba_build) -> pd.DataFrame:
    con = duckdb.connect(str(nba_build.warehouse), read_only=True)
    try:
        full = nba_mart_frame(con)
    finally:
        con.close()
    games = full.drop_duplicates("game_id").groupby("season").head(120)["game_id"]
    return full[full["game_id"].isin(games) & ~full["game_id"].isin(SLICE_GAMES)]


@pytest.fixture(scope="module")
def candidates(frame) -> dict:
    return {
        name: train_candidate(SPECS[name], frame, log=lambda _: None)
        for name in ("nba_wp", "nba_wp_baseline")
    }


def test_mart_frame_groups_overtime_and_orders_actions(nba_build):
    con = duckdb.connect(str(nba_build.warehouse), read_only=True)
    try:
        full = nba_mart_frame(con)
        periods = dict(
            con.execute("select period, count(*) from marts.nba_wp_features group by 1").fetchall()
        )
    finally:
        con.close()
    assert max(periods) >= 6  # double overtime happens in two seasons
    assert sorted(full["period_group"].unique()) == [1, 2, 3, 4, 5]
    assert (full["period_group"] == 5).sum() == sum(n for p, n in periods.items() if p >= 5)
    assert full[["game_id", "action_id"]].equals(
        full.sort_values(["game_id", "action_id"])[["game_id", "action_id"]]
    )


def test_calibration_by_period_counts_every_overtime_as_one_period():
    # period 1: bin 0.50 holds 2 actions, 1 won (|0.50 - 0.50| = 0); bin 0.20 holds 2, none won (0.20)
    #   → (0 * 2 + 0.20 * 2) / 4 = 0.10, with 1 win
    # overtime (periods 5 and 6 as one): bin 0.70 holds 2 actions, 1 won → |0.70 - 0.50| = 0.20, 1 win
    # overall, periods weighted by wins: (0.10 * 1 + 0.20 * 1) / 2 = 0.15
    # (periods 5 and 6 apart would give (0.10 + 0.30 * 1 + 0.70 * 0) / 2 = 0.20)
    predictions = pd.DataFrame(
        {
            "season": 2024,
            "home_wp": [0.52, 0.49, 0.21, 0.19, 0.71, 0.69],
            "home_win": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            "period_group": [1, 1, 1, 1, 5, 5],
        }
    )
    metrics = evaluate_nba_wp(predictions)
    assert metrics["variants"]["home_wp"]["overall"]["calibration_error"] == pytest.approx(0.15)
    assert calibration_error(predictions["home_win"], predictions["home_wp"], [1, 1, 1, 1, 5, 6]) == (
        pytest.approx(0.20)
    )
    assert metrics["selection"]["calibration_error_by_season"] == {"2024": pytest.approx(0.15)}
    assert [row["period"] for row in metrics["per_period"]["home_wp"]] == [1, 5]


def test_candidates_are_evaluated_leave_one_season_out_and_beat_chance(candidates):
    for candidate in candidates.values():
        folds = candidate.metrics["folds"]
        assert [f["held_out"] for f in folds] == [2023, 2024]
        assert all(f["held_out"] not in f["training_seasons"] for f in folds)
        overall = candidate.metrics["variants"]["home_wp"]["overall"]
        assert overall["brier"] < 0.2 and overall["auc"] > 0.75


def test_artifacts_reproduce_predictions_bit_for_bit_after_reload(candidates, frame, tmp_path):
    sample = frame.sample(3000, random_state=1)
    for name, candidate in candidates.items():
        folder = tmp_path / name
        candidate.model.save(folder)
        assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.pickle"))
        reloaded = load_model(candidate.model.kind, folder)
        before, after = candidate.model.predict(sample), reloaded.predict(sample)
        assert before.keys() == after.keys() == {"home_wp"}
        assert np.array_equal(before["home_wp"], after["home_wp"]), name


def test_nba_wp_artifact_holds_its_logistic_base_as_json(candidates, tmp_path):
    model = candidates["nba_wp"].model
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home_wp.ubj", "logistic.json"]
    logistic = json.loads((tmp_path / "logistic.json").read_text())
    assert logistic == model.logistic and logistic["features"] == list(NBA_BASE_FEATURES)
    (tmp_path / "logistic.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"logistic\.json"):
        load_model(model.kind, tmp_path)


def test_brownian_features_by_hand():
    rows = pd.DataFrame(
        {
            "score_diff": [-1.0, 6.0],
            "game_seconds_remaining": [0.0, 1440.0],
            "home_has_possession": [np.nan, 1.0],
            "home_strength": [5.0, 4.0],
            "home_prior_games": [10.0, 30.0],
            "away_strength": [np.nan, -2.0],
            "away_prior_games": [0.0, 10.0],
        }
    )
    features = nba_brownian_features(rows)
    # 0:00 down 1: -1 / sqrt(0 + 0.1); unknown possession 0; no time left for strength or home court
    assert features.iloc[0].tolist() == pytest.approx([-3.16228, 0.0, 0.0, 0.0], abs=1e-5)
    # 24 minutes left: sqrt(24.1) = 4.90918; strengths shrunk 4 * 30 / 40 = 3 and -2 * 10 / 20 = -1;
    # sqrt(24 / 48) = 0.70711
    assert features.iloc[1].tolist() == pytest.approx([1.22220, 0.20370, 2.82843, 0.70711], abs=1e-5)


def test_model_scores_a_file_without_strength(candidates, frame):
    """A file scored without the game log has no pre-game strength: the model still scores every row."""
    unknown = {c: np.nan for c in ("strength_diff", "strength_time", *NBA_STRENGTH_INPUTS)}
    predictions = candidates["nba_wp"].model.predict(frame.assign(**unknown))["home_wp"]
    assert np.isfinite(predictions).all() and ((predictions >= 0) & (predictions <= 1)).all()
    # exactly 0 or 1 (float32 rounding) only for a team far ahead with little time left
    lead = frame["score_diff"].to_numpy()
    assert (lead[predictions == 1] >= 10).all() and (lead[predictions == 0] <= -10).all()


def test_registry_versions_and_champion_decisions(candidates, frame, tmp_path):
    warehouse, store = tmp_path / "registry.duckdb", tmp_path / "store"
    first = candidates["nba_wp"]
    coin = np.random.default_rng(7).integers(0, 2, frame["game_id"].nunique()).astype(float)
    shuffled = frame["game_id"].map(dict(zip(frame["game_id"].unique(), coin, strict=True)))
    weak = train_candidate(SPECS["nba_wp"], frame.assign(home_win=shuffled), log=lambda _: None)
    con = duckdb.connect(str(warehouse))
    try:
        v1 = register(con, first, store)
        v2 = register(con, weak, store)  # learnt coin flips: worse held-out log loss
        v3 = register(con, first, store)
        rows = versions(con, "nba_wp")
        current = champion(con, "nba_wp")
        NbaPredictor.from_registry(con)  # loads the champion
    finally:
        con.close()
    assert [(e.version, e.is_champion) for e in rows] == [(1, False), (2, False), (3, True)]
    assert v1.decision["reason"] == "no champion yet"
    assert not v2.decision["promoted"] and v2.decision["challenger"] > v2.decision["champion"]
    assert v3.decision["promoted"] and v3.decision["champion_version"] == 1
    assert current.kind == "xgboost_nba_wp" and (Path(current.artifact_path) / "logistic.json").exists()
    assert "strength_diff" in (Path(current.artifact_path) / "card.json").read_text()


@pytest.fixture(scope="module")
def scoring_env(nba_build, candidates, tmp_path_factory) -> dict:
    """A user whose warehouse holds the NBA marts and champions of the NBA models."""
    root = tmp_path_factory.mktemp("nba_scored")
    path = root / "playcast.duckdb"
    shutil.copy(nba_build.warehouse, path)
    con = duckdb.connect(str(path))
    try:
        for candidate in candidates.values():
            register(con, candidate, root / "model_store")
    finally:
        con.close()
    return {**os.environ, "PLAYCAST_WAREHOUSE": str(path)}


@pytest.fixture(scope="module")
def mirror_slice(data_mirror, tmp_path_factory) -> Path:
    """Three games of the mirror's 2024-25 season file, every column as the mirror has it."""
    path = tmp_path_factory.mktemp("nba_slice") / "three_games.parquet"
    pbp = pd.read_parquet(
        data_mirror / "nba" / "playbyplayv3_2024_25.parquet", filters=[("gameId", "in", list(SLICE_GAMES))]
    )
    pbp.to_parquet(path, index=False)
    return path


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args], env=env, capture_output=True, text=True
    )


def test_predict_nba_scores_a_mirror_file_like_the_mart(scoring_env, mirror_slice, tmp_path):
    output = tmp_path / "scored.parquet"
    done = cli("predict", "nba", "--input", str(mirror_slice), "--output", str(output), env=scoring_env)
    assert done.returncode == 0, done.stderr
    scored = pd.read_parquet(output)
    assert list(scored.columns) == [*NBA_OUTPUT_COLUMNS, "model_version"]
    assert NBA_OUTPUT_COLUMNS == ("game_id", "action_id", "action_number", "home_wp")
    assert len(scored) == len(pd.read_parquet(mirror_slice))
    assert set(scored["game_id"]) == set(SLICE_GAMES) and scored["home_wp"].between(0, 1).all()
    assert scored["model_version"].unique().tolist() == ["nba_wp@1"]
    # the file went through the mart's own SQL: the champion on the mart's rows gives the same numbers
    con = duckdb.connect(scoring_env["PLAYCAST_WAREHOUSE"], read_only=True)
    try:
        predictor = NbaPredictor.from_registry(con)
        mart = nba_mart_frame(con)
    finally:
        con.close()
    expected = predictor.predict_frame(mart[mart["game_id"].isin(SLICE_GAMES)].reset_index(drop=True))
    pd.testing.assert_frame_equal(scored, expected)
    # each game's last action (the end of the last period) carries the result, not a model's guess
    last = scored.groupby("game_id").tail(1).set_index("game_id")["home_wp"]
    finals = mart[mart["game_id"].isin(SLICE_GAMES)].groupby("game_id")["home_win"].first()
    assert last.sort_index().tolist() == finals.sort_index().tolist()

    as_csv = tmp_path / "three_games.csv"
    pd.read_parquet(mirror_slice).to_csv(as_csv, index=False)  # gameId loses nothing: read by name as text
    from_csv = tmp_path / "from_csv.parquet"
    done = cli("predict", "nba", "--input", str(as_csv), "--output", str(from_csv), env=scoring_env)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(from_csv), scored)


def test_evaluate_nba_prints_playcast_next_to_a_naive_model(scoring_env, mirror_slice):
    done = cli("evaluate", "nba", "--input", str(mirror_slice), env=scoring_env)
    assert done.returncode == 0, done.stderr
    assert "playcast" in done.stdout and "naive" in done.stdout and "brier" in done.stdout
    assert "in-sample for playcast" in done.stdout  # the test champion trained on 2024-25


def test_predict_nba_names_missing_columns(scoring_env, mirror_slice, tmp_path):
    broken = tmp_path / "no_clock.parquet"
    pd.read_parquet(mirror_slice).drop(columns=["clock", "location"]).to_parquet(broken)
    done = cli(
        "predict", "nba", "--input", str(broken), "--output", str(tmp_path / "x.parquet"), env=scoring_env
    )
    assert done.returncode == 2
    assert "clock" in done.stderr and "location" in done.stderr and str(broken) in done.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_predict_nba_rejects_an_action_given_twice(scoring_env, mirror_slice, tmp_path):
    """The game state joins each action with the others: a repeated one would be scored many times over."""
    repeated = tmp_path / "repeated.parquet"
    actions = pd.read_parquet(mirror_slice)
    pd.concat([actions, actions.iloc[[10]]]).to_parquet(repeated)
    done = cli(
        "predict", "nba", "--input", str(repeated), "--output", str(tmp_path / "x.parquet"), env=scoring_env
    )
    assert done.returncode == 2, done.stderr
    game, action = actions.iloc[10][["gameId", "actionId"]]
    assert (
        f"{repeated}: 1 (gameId, actionId) pair(s) appear more than once, e.g. {game}/{action} 2 times"
        in (done.stderr)
    )
    assert not (tmp_path / "x.parquet").exists()


def test_nba_retraining_runs_weekly_october_to_june_and_when_the_nba_mart_changes():
    import datetime as dt

    import dagster as dg
    from dagster._utils.schedules import cron_string_iterator

    from orchestration.definitions import defs
    from sensors.schedules import NBA_RETRAIN_CRON, nba_weekly_retrain

    models = {dg.AssetKey(["ml", name]) for name in ("nba_wp_model", "nba_wp_baseline_model")}
    assert nba_weekly_retrain.job_name == "retrain_nba_models"
    assert set(defs.resolve_job_def("retrain_nba_models").asset_layer.executable_asset_keys) == models
    fire_times = cron_string_iterator(
        dt.datetime(2026, 7, 1).timestamp(), NBA_RETRAIN_CRON, "America/New_York"
    )
    first = next(fire_times)
    assert (first.month, first.day, first.weekday(), first.hour) == (10, 6, 1, 6)  # first Tuesday of October
    assert all(next(fire_times).month in (10, 11, 12, 1, 2, 3, 4, 5, 6) for _ in range(40))

    instance = dg.DagsterInstance.ephemeral()
    mart = dg.AssetKey(["marts", "nba_wp_features"])
    nfl_model = dg.AssetKey(["ml", "nfl_wp_model"])
    selection = dg.AssetSelection.assets(*models, nfl_model)
    for key in (mart, dg.AssetKey(["marts", "nfl_wp_features"]), nfl_model, *models):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    settled = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection)
    instance.report_runless_asset_event(dg.AssetMaterialization(mart))  # an NBA dbt build
    updated = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection, cursor=settled.cursor
    )
    assert {key for key in (*models, nfl_model) if updated.get_num_requested(key) == 1} == models
