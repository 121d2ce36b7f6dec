"""NFL models on real data: artifacts reproduce after reload, registry decisions, evaluation, scoring."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.evaluate import calibration_error, loso_predict
from models.features import HOME_AWAY_PAIRS, mart_frame, mirrored, nfl_brownian_features
from models.pipeline import SPECS, train_candidate
from models.predict import OUTPUT_COLUMNS
from models.registry import champion, register, versions
from models.train import WpModel, load_model

FULL_2021 = Path("nfl") / "nflverse_full_partial" / "play_by_play_2021_weeks01-05.parquet"


@pytest.fixture(scope="module")
def frame(nfl_warehouse) -> pd.DataFrame:
    con = duckdb.connect(str(nfl_warehouse), read_only=True)
    try:
        return mart_frame(con)
    finally:
        con.close()


@pytest.fixture(scope="module")
def candidates(nfl_candidates) -> dict:
    return nfl_candidates


def test_training_rows_handed_over_as_parquet_are_the_mart_rows(nfl_warehouse, frame, tmp_path):
    """The training graph's read step saves the rows with DuckDB and each training step loads them: the same
    frame (values, dtypes, order) as reading the mart directly, so the same fingerprint and models."""
    spec = SPECS["nfl_wp"]
    path = tmp_path / "it's rows.parquet"  # a quote in the path
    con = duckdb.connect(str(nfl_warehouse), read_only=True)
    try:
        assert spec.save_frame(con, path) == len(frame)
    finally:
        con.close()
    pd.testing.assert_frame_equal(spec.load_frame(path), frame)


def test_calibration_error_matches_a_hand_computed_example():
    # quarter 1: bin 0.50 holds 4 plays, 3 won (|0.50 - 0.75| = 0.25); bin 0.20 holds 2 plays, none won (0.20)
    #   → (0.25 * 4 + 0.20 * 2) / 6 = 0.2333, with 3 wins
    # quarter 2: bin 0.90 holds 2 plays, both won (|0.90 - 1.00| = 0.10), with 2 wins
    # overall, quarters weighted by wins: (0.2333 * 3 + 0.10 * 2) / 5 = 0.18
    prob = np.array([0.52, 0.51, 0.49, 0.50, 0.21, 0.19, 0.91, 0.88])
    label = np.array([1, 1, 1, 0, 0, 0, 1, 1])
    quarter = np.array([1, 1, 1, 1, 1, 1, 2, 2])
    assert calibration_error(label, prob, quarter) == pytest.approx(0.18)


def test_loso_never_trains_on_the_season_it_evaluates(frame):
    seen: list[set] = []

    def fit(rows: pd.DataFrame) -> None:
        seen.append(set(rows["season"].unique()))

    predictions, folds = loso_predict(frame, fit, lambda _, held_out: np.zeros(len(held_out)))
    assert [f.held_out for f in folds] == [2020, 2021]
    assert seen == [{2021}, {2020}]
    assert all(f.held_out not in f.training_seasons for f in folds)
    assert len(predictions) == len(frame)


def test_candidates_record_their_folds_and_beat_chance(candidates):
    wp = candidates["nfl_wp"].metrics
    assert [f["held_out"] for f in wp["folds"]] == [2020, 2021]
    assert all(f["held_out"] not in f["training_seasons"] for f in wp["folds"])
    overall = wp["variants"]["home_wp_spread"]["overall"]
    assert overall["log_loss"] < 0.55 and overall["auc"] > 0.8
    assert candidates["nfl_score"].metrics["overall"]["mae_per_team"] < 7


def test_artifacts_reproduce_predictions_bit_for_bit_after_reload(candidates, frame, tmp_path):
    sample = frame.sample(2000, random_state=1)
    for name, candidate in candidates.items():
        folder = tmp_path / name
        candidate.model.save(folder)
        assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.pickle"))
        reloaded = load_model(candidate.model.kind, folder)
        before, after = candidate.model.predict(sample), reloaded.predict(sample)
        assert before.keys() == after.keys()
        for column in before:
            assert np.array_equal(before[column], after[column]), (name, column)


def test_an_nfl_wp_artifact_without_its_logistic_base_asks_for_retraining(candidates, tmp_path):
    candidates["nfl_wp"].model.save(tmp_path)
    (tmp_path / "logistic.json").unlink()  # the format before the logistic base
    with pytest.raises(FileNotFoundError, match="retrain the NFL models"):
        WpModel.load(tmp_path)


def test_brownian_terms_of_one_state_equal_the_frame_rows(frame):
    sample = frame.sample(50, random_state=3)
    columns = nfl_brownian_features(sample)
    for i, state in enumerate(sample.to_dict("records")):
        for name, value in nfl_brownian_features(state).items():
            assert value == pytest.approx(columns[name][i], nan_ok=True), name
    lead = columns["lead_root_time"]
    assert np.array_equal(np.sign(lead), np.sign(sample["score_differential"].to_numpy()))


def test_mirrored_plays_swap_home_and_away(frame):
    rows = frame.head(200)
    swapped = mirrored(rows)
    for home, away in HOME_AWAY_PAIRS:
        assert swapped[home].equals(rows[away]) and swapped[away].equals(rows[home])
    assert swapped["spread_line"].equals(-rows["spread_line"])
    assert swapped["score_differential"].equals(rows["score_differential"])  # posteam is the same team
    pd.testing.assert_frame_equal(mirrored(swapped), rows)


def test_registry_versions_and_champion_decisions(candidates, frame, tmp_path):
    warehouse, store = tmp_path / "registry.duckdb", tmp_path / "store"
    first = candidates["nfl_wp"]
    shuffled = frame.sample(frac=0.02, random_state=7)
    shuffled["posteam_win"] = shuffled["posteam_win"].sample(frac=1, random_state=7).to_numpy()
    weak = train_candidate(SPECS["nfl_wp"], shuffled, log=lambda _: None)
    con = duckdb.connect(str(warehouse))
    try:
        v1 = register(con, first, store)
        v2 = register(con, weak, store)  # 2% of the plays, results shuffled: worse held-out log loss
        v3 = register(con, first, store)  # the same model again: not worse, so it takes over
        rows = versions(con, "nfl_wp")
        current = champion(con, "nfl_wp")
    finally:
        con.close()
    assert [(e.version, e.is_champion) for e in rows] == [(1, False), (2, False), (3, True)]
    assert v1.decision["promoted"] and v1.decision["reason"] == "no champion yet"
    assert not v2.decision["promoted"]
    assert v2.decision["challenger"] > v2.decision["champion"] and v2.decision["champion_version"] == 1
    assert v3.decision["promoted"] and v3.decision["champion_version"] == 1
    assert current.version == 3
    card = (Path(current.artifact_path) / "card.json").read_text()
    for field in ("data_fingerprint", "training_seasons", "library_versions", "code_version", "wp_spread"):
        assert field in card
    assert (Path(current.artifact_path) / "wp_spread.ubj").exists()


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args], env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def scoring_env(scored_warehouse) -> dict:
    """The environment of a user whose warehouse holds champions of every model."""
    return {**os.environ, "PLAYCAST_WAREHOUSE": str(scored_warehouse)}


def test_predict_scores_a_full_schema_nflverse_file(scoring_env, data_mirror, tmp_path):
    output = tmp_path / "scored.parquet"
    done = cli(
        "predict", "nfl", "--input", str(data_mirror / FULL_2021), "--output", str(output), env=scoring_env
    )
    assert done.returncode == 0, done.stderr
    scored = pd.read_parquet(output)
    assert list(scored.columns) == [*OUTPUT_COLUMNS, "model_version"]
    assert OUTPUT_COLUMNS == (
        "game_id",
        "play_id",
        "home_wp",
        "home_wp_spread",
        "pred_home_score",
        "pred_away_score",
    )
    assert len(scored) == 14174
    assert scored["model_version"].unique().tolist() == ["nfl_wp@1+nfl_score@1"]
    assert pd.api.types.is_integer_dtype(scored["play_id"])  # nflverse's are doubles
    assert scored["home_wp"].between(0, 1).all() and scored["home_wp_spread"].between(0, 1).all()
    assert (scored["pred_home_score"] >= 0).all()


def test_evaluate_prints_playcast_next_to_nflfastr(scoring_env, data_mirror):
    done = cli("evaluate", "nfl", "--input", str(data_mirror / FULL_2021), env=scoring_env)
    assert done.returncode == 0, done.stderr
    for row in ("playcast wp", "nflfastR wp", "playcast wp (spread)", "nflfastR vegas_wp"):
        assert row in done.stdout
    assert "in-sample for playcast" in done.stdout  # the test champions trained on 2021


def test_predict_names_missing_columns(scoring_env, data_mirror, tmp_path):
    broken = tmp_path / "no_timeouts.parquet"
    pd.read_parquet(data_mirror / FULL_2021).drop(
        columns=["posteam_timeouts_remaining", "spread_line"]
    ).to_parquet(broken)
    done = cli(
        "predict", "nfl", "--input", str(broken), "--output", str(tmp_path / "x.parquet"), env=scoring_env
    )
    assert done.returncode == 2
    assert (
        "posteam_timeouts_remaining" in done.stderr
        and "spread_line" in done.stderr
        and str(broken) in done.stderr
    )


def test_predict_names_an_unreadable_file(scoring_env, tmp_path):
    broken = tmp_path / "truncated.parquet"
    broken.write_bytes(b"PAR1 not really")
    done = cli(
        "predict", "nfl", "--input", str(broken), "--output", str(tmp_path / "x.parquet"), env=scoring_env
    )
    assert done.returncode == 2 and str(broken) in done.stderr and "cannot be read" in done.stderr


def test_predict_without_champions_says_what_to_do(data_mirror, tmp_path):
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    env = {**os.environ, "PLAYCAST_WAREHOUSE": str(tmp_path / "empty.duckdb")}
    done = cli(
        "predict", "nfl", "--input", str(data_mirror / FULL_2021), "--output", str(tmp_path / "x.parquet"),
        env=env,
    )  # fmt: skip
    assert done.returncode == 2 and "no champion model for nfl_wp, nfl_score" in done.stderr


def test_predict_writes_only_a_parquet_named_output(scoring_env, data_mirror, tmp_path):
    output = tmp_path / "scored.csv"
    done = cli(
        "predict", "nfl", "--input", str(data_mirror / FULL_2021), "--output", str(output), env=scoring_env
    )
    assert done.returncode == 2 and f"{output}: the output is written as parquet" in done.stderr
    assert not output.exists()
