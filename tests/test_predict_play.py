"""Single-play scoring (NflPredictor.predict_play, models.trees) equals the boosters' own batch scoring."""

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from models.features import ALL_FEATURES, from_nflverse
from models.predict import NflPredictor, read_plays
from models.trees import Forest

FULL_2021 = ("nfl", "nflverse_full_partial", "play_by_play_2021_weeks01-05.parquet")
COLUMNS = ["home_wp", "home_wp_spread", "pred_home_score", "pred_away_score"]


@pytest.fixture(scope="module")
def predictor(nfl_candidates) -> NflPredictor:
    wp, score = nfl_candidates["nfl_wp"], nfl_candidates["nfl_score"]
    return NflPredictor(wp.model, score.model, "test", wp.training_seasons)


@pytest.fixture(scope="module")
def plays(data_mirror) -> pd.DataFrame:
    """Every row of the two games with rows that lack even the clock; their kickoffs, timeouts and quarter
    ends lack the down, the yard line or the timeouts."""
    path = data_mirror.joinpath(*FULL_2021)
    frame = from_nflverse(read_plays(path), str(path))
    games = frame.loc[frame["game_seconds_remaining"].isna(), "game_id"].unique()
    return frame[frame["game_id"].isin(games)].reset_index(drop=True)


def test_predict_play_equals_predict_frame_on_real_states(predictor, plays):
    missing = ["game_seconds_remaining", "down", "yardline_100", "posteam_timeouts_remaining", "spread_time"]
    assert plays[missing].isna().any().all() and plays[missing].notna().any().all()
    assert set(plays["posteam_is_home"]) == {0.0, 1.0}
    states = [
        {k: (None if pd.isna(v) else float(v)) for k, v in state.items()}
        for state in plays.loc[:, list(ALL_FEATURES)].to_dict("records")
    ]
    played = pd.DataFrame([predictor.predict_play(state) for state in states])
    framed = predictor.predict_frame(plays)
    assert list(played.columns) == COLUMNS
    np.testing.assert_allclose(played.to_numpy(), framed[COLUMNS].to_numpy(), rtol=0, atol=1e-6)


def test_forest_names_what_it_cannot_evaluate():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    linear = xgb.train({"booster": "gblinear"}, xgb.DMatrix(x, label=x[:, 0]), num_boost_round=1)
    with pytest.raises(ValueError, match="gblinear booster with objective reg:squarederror"):
        Forest([(linear, [0, 1])], 2)
