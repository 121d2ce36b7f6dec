"""The models: NFL xgboost win probability (with and without the spread), final score, NBA win probability,
and logistic baselines of both sports' win probability.

Each model is a small class with `fit`, `predict` (a dict of named arrays), `save` and `load`; artifacts are
xgboost's own UBJ format and plain JSON, never pickles. The WP models use nflfastR's features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
import pandas as pd
import xgboost as xgb

from models.features import (
    MONOTONE,
    NBA_BROWNIAN_FEATURES,
    NBA_MONOTONE,
    NBA_WP_FEATURES,
    SCORE_FEATURES,
    WP_BROWNIAN_FEATURES,
    WP_FEATURES,
    WP_SPREAD_BROWNIAN_FEATURES,
    WP_SPREAD_FEATURES,
    home_wp,
    matrix,
    mirrored,
    nba_brownian_features,
    nfl_brownian_features,
)

THREADS = 2


@dataclass(frozen=True)
class BoosterSpec:
    """One xgboost model: its features (in order), parameters and rounds."""

    features: tuple[str, ...]
    params: dict
    rounds: int
    monotone: dict[str, int] = field(default_factory=lambda: MONOTONE)  # feature -> +1 / -1

    def full_params(self) -> dict:
        params = {"tree_method": "hist", "nthread": THREADS, "seed": 2026, **self.params}
        if params.get("objective") == "binary:logistic":
            params["monotone_constraints"] = (
                "(" + ",".join(str(self.monotone.get(f, 0)) for f in self.features) + ")"
            )
        return params

    def fit(
        self, frame: pd.DataFrame, label: pd.Series, base_margin: np.ndarray | None = None
    ) -> xgb.Booster:
        data = xgb.DMatrix(
            matrix(frame, self.features), label=label.to_numpy(dtype=np.float32), base_margin=base_margin
        )
        return xgb.train(self.full_params(), data, num_boost_round=self.rounds)


# nflfastR's vegas_wp and wp features (MODEL-WP scripts, same order), boosted from a logistic regression's
# log-odds on the Brownian-motion terms (WpModel), so the trees only correct it: shallow trees, large leaves.
# Chosen on the folds holding out 2019, 2020 and 2021 (BENCHMARKS.md); nflfastR's own parameters
# (534 rounds of depth 5 with the spread, 65 of depth 4 without) did worse there.
NFL_WP_PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "eta": 0.05,
    "max_depth": 3,
    "min_child_weight": 500,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
}
WP_SPREAD = BoosterSpec(WP_SPREAD_FEATURES, NFL_WP_PARAMS, 200)
WP_NO_SPREAD = BoosterSpec(WP_FEATURES, NFL_WP_PARAMS, 200)
# NBA home win probability: boosted from a logistic regression's log-odds (NbaWpModel), since the win
# probability is near-logistic in the Brownian features; the trees correct it from the clock, score and
# possession. Every action is a row (~600k a season, strongly correlated within a game), so shallow trees
# with large leaves. Chosen by training on 2022-23 and evaluating on 2023-24 and the reverse, never on
# 2024-25 (BENCHMARKS.md).
NBA_BASE_FEATURES: tuple[str, ...] = (*NBA_WP_FEATURES, *NBA_BROWNIAN_FEATURES)
NBA_WP = BoosterSpec(
    ("period", "period_seconds_remaining", "game_seconds_remaining", "score_diff", "home_has_possession"),
    {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "eta": 0.05,
        "max_depth": 2,
        "min_child_weight": 5000,
        "lambda": 10,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
    },
    100,
    NBA_MONOTONE,
)
# corrections to the lines' prior from the game state: shallow, heavily regularized (measured in LOSO)
SCORE = BoosterSpec(
    SCORE_FEATURES,
    {
        "objective": "reg:squarederror",
        "eta": 0.05,
        "max_depth": 4,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 2000,
        "lambda": 10,
    },
    200,
)


def predict_booster(
    booster: xgb.Booster,
    frame: pd.DataFrame,
    features: tuple[str, ...],
    base_margin: np.ndarray | None = None,
) -> np.ndarray:
    return booster.inplace_predict(matrix(frame, features), base_margin=base_margin).astype(np.float64)


# league-wide points per team per game (2019-2023) for games without lines
MEAN_TEAM_POINTS = 22.5


def line_prior(total_line, spread_line, game_seconds_remaining) -> tuple[np.ndarray, np.ndarray]:
    """Points still to come for home and away implied by the pre-game lines and the share of time left.

    The score model learns corrections to this prior, so at kickoff it starts from the market's own view.
    Accepts arrays or scalars; a missing line falls back to the league average.
    """
    total = np.nan_to_num(np.asarray(total_line, dtype=np.float64), nan=2 * MEAN_TEAM_POINTS)
    spread = np.nan_to_num(np.asarray(spread_line, dtype=np.float64), nan=0.0)
    share = np.clip(np.nan_to_num(np.asarray(game_seconds_remaining, dtype=np.float64)) / 3600, 0, 1)
    return (total + spread) / 2 * share, (total - spread) / 2 * share


def frame_prior(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return line_prior(frame["total_line"], frame["spread_line"], frame["game_seconds_remaining"])


class Model(Protocol):
    kind: ClassVar[str]

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]: ...
    def save(self, folder: Path) -> None: ...
    def describe(self) -> dict: ...


def _save_boosters(folder: Path, boosters: dict[str, xgb.Booster]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, booster in boosters.items():
        booster.save_model(str(folder / f"{name}.ubj"))


def _load_booster(folder: Path, name: str) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(str(folder / f"{name}.ubj"))
    booster.set_param({"nthread": THREADS})
    return booster


def _save_logistic_base(folder: Path, logistic: dict) -> None:
    (folder / "logistic.json").write_text(json.dumps(logistic, indent=1))


def _load_logistic_base(folder: Path, sport: str) -> dict:
    """The logistic base of a WP model; versions saved before it existed cannot be scored."""
    path = folder / "logistic.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: missing (an {sport}_wp version older than its logistic base): retrain the "
            f"{sport.upper()} models (`playcast train {sport}` or the {sport}_models group in the Dagster UI)"
        )
    return json.loads(path.read_text())


@dataclass
class WpModel:
    """Home win probability from two models of posteam's win, without and with the spread: each a logistic
    regression on the Brownian-motion terms giving the log-odds, and an xgboost model learning corrections
    to them (its base margin) from nflfastR's features.

    Artifacts: `logistic.json` ({"wp": ..., "wp_spread": ...} in LogisticWpModel's format), `wp.ubj` and
    `wp_spread.ubj`.
    """

    kind: ClassVar[str] = "xgboost_wp"
    logistic: dict[str, dict]  # "wp" / "wp_spread" -> features, center, scale, coef, intercept
    wp: xgb.Booster
    wp_spread: xgb.Booster
    specs: ClassVar[dict[str, tuple[BoosterSpec, tuple[str, ...]]]] = {
        "wp": (WP_NO_SPREAD, WP_BROWNIAN_FEATURES),
        "wp_spread": (WP_SPREAD, WP_SPREAD_BROWNIAN_FEATURES),
    }

    @classmethod
    def fit(cls, rows: pd.DataFrame) -> WpModel:
        inputs = rows.assign(**nfl_brownian_features(rows))
        logistic = {name: LogisticWpModel.fit_one(inputs, base) for name, (_, base) in cls.specs.items()}
        margins = _base_margins(logistic, rows)
        boosters = {
            name: spec.fit(rows, rows["posteam_win"], base_margin=margins[name])
            for name, (spec, _) in cls.specs.items()
        }
        return cls(logistic, **boosters)

    def base_margins(self, frame: pd.DataFrame | dict) -> dict[str, np.ndarray]:
        """Each booster's base margin, its logistic regression's log-odds of posteam's win, for mart-shaped
        rows (a DataFrame) or one state's values (a dict, as `NflPredictor.predict_play` has)."""
        return _base_margins(self.logistic, frame)

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        is_home = frame["posteam_is_home"].to_numpy()
        margins = self.base_margins(frame)
        return {
            output: home_wp(predict_booster(booster, frame, spec.features, margins[name]), is_home)
            for output, name, booster, (spec, _) in (
                ("home_wp", "wp", self.wp, self.specs["wp"]),
                ("home_wp_spread", "wp_spread", self.wp_spread, self.specs["wp_spread"]),
            )
        }

    def save(self, folder: Path) -> None:
        _save_boosters(folder, {"wp": self.wp, "wp_spread": self.wp_spread})
        _save_logistic_base(folder, self.logistic)

    @classmethod
    def load(cls, folder: Path) -> WpModel:
        logistic = _load_logistic_base(folder, "nfl")
        return cls(logistic, _load_booster(folder, "wp"), _load_booster(folder, "wp_spread"))

    def describe(self) -> dict:
        return {
            name: {
                "logistic": {
                    "features": self.logistic[name]["features"],
                    "model": "sklearn LogisticRegression",
                },
                "features": list(spec.features),
                "base_margin": "the logistic's log-odds",
                "params": spec.full_params(),
                "rounds": spec.rounds,
            }
            for name, (spec, _) in self.specs.items()
        }


def _base_margins(logistic: dict[str, dict], frame: pd.DataFrame | dict) -> dict[str, np.ndarray]:
    terms = {name: np.atleast_1d(values) for name, values in nfl_brownian_features(frame).items()}
    return {
        name: _log_odds(c, np.column_stack([terms[f] for f in c["features"]]).astype(np.float32))
        for name, c in logistic.items()
    }


@dataclass
class NbaWpModel:
    """NBA home win probability: a logistic regression of the home team's win on NBA_BASE_FEATURES gives the
    log-odds, one xgboost model learns corrections to them (its base margin).

    Artifacts: `logistic.json` (LogisticWpModel's format) and `home_wp.ubj`.
    """

    kind: ClassVar[str] = "xgboost_nba_wp"
    logistic: dict  # features, center, scale, coef, intercept
    booster: xgb.Booster

    @classmethod
    def fit(cls, rows: pd.DataFrame) -> NbaWpModel:
        inputs = _with_brownian(rows)
        logistic = NbaLogisticWpModel.fit_one(inputs, NBA_BASE_FEATURES)
        booster = NBA_WP.fit(inputs, rows["home_win"], base_margin=logistic_margin(logistic, inputs))
        booster.feature_names = list(NBA_WP.features)  # saved with the model: a version scores what it learnt
        return cls(logistic, booster)

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        inputs = _with_brownian(frame)
        margin = logistic_margin(self.logistic, inputs)
        return {"home_wp": predict_booster(self.booster, inputs, tuple(self.booster.feature_names), margin)}

    def save(self, folder: Path) -> None:
        _save_boosters(folder, {"home_wp": self.booster})
        _save_logistic_base(folder, self.logistic)

    @classmethod
    def load(cls, folder: Path) -> NbaWpModel:
        return cls(_load_logistic_base(folder, "nba"), _load_booster(folder, "home_wp"))

    def describe(self) -> dict:
        return {
            "logistic": {"features": self.logistic["features"], "model": "sklearn LogisticRegression"},
            "home_wp": {
                "features": list(NBA_WP.features),
                "base_margin": "the logistic's log-odds",
                "params": NBA_WP.full_params(),
                "rounds": NBA_WP.rounds,
            },
        }


def _with_brownian(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, nba_brownian_features(frame)], axis=1)


def logistic_margin(coefficients: dict, frame: pd.DataFrame) -> np.ndarray:
    """The log-odds of one fitted logistic regression (LogisticWpModel's format) on `frame`'s rows."""
    return _log_odds(coefficients, matrix(frame, tuple(coefficients["features"])))


def _log_odds(c: dict, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    center = np.asarray(c["center"])
    z = ((np.where(np.isnan(x), center, x) - center) / np.asarray(c["scale"])) @ np.asarray(c["coef"])
    return z + c["intercept"]


@dataclass
class LogisticWpModel:
    """Baseline: logistic regression on the same features (standardized, missing → training median).

    The NFL's models posteam's win with and without the spread (`variants`: stored name → output and
    features); a subclass changes the class variables for another sport.
    """

    kind: ClassVar[str] = "logistic_wp"
    variants: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {
        "wp": ("home_wp", WP_FEATURES),
        "wp_spread": ("home_wp_spread", WP_SPREAD_FEATURES),
    }
    label: ClassVar[str] = "posteam_win"
    coefficients: dict[str, dict]  # variant -> {features, center, scale, coef, intercept}

    @classmethod
    def fit_one(cls, rows: pd.DataFrame, features: tuple[str, ...]) -> dict:
        """One logistic regression of `label` on `features` of `rows`, as plain numbers."""
        from sklearn.linear_model import LogisticRegression  # only training needs scikit-learn

        x = matrix(rows, features).astype(np.float64)
        center = np.nanmedian(x, axis=0)
        x = np.where(np.isnan(x), center, x)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        fitted = LogisticRegression(max_iter=1000).fit((x - center) / scale, rows[cls.label].to_numpy())
        return {
            "features": list(features),
            "center": center.tolist(),
            "scale": scale.tolist(),
            "coef": fitted.coef_[0].tolist(),
            "intercept": float(fitted.intercept_[0]),
        }

    @classmethod
    def fit(cls, rows: pd.DataFrame) -> LogisticWpModel:
        return cls({name: cls.fit_one(rows, features) for name, (_, features) in cls.variants.items()})

    def _label_wp(self, frame: pd.DataFrame, variant: str) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-logistic_margin(self.coefficients[variant], frame)))

    @staticmethod
    def _home(frame: pd.DataFrame, wp: np.ndarray) -> np.ndarray:
        return home_wp(wp, frame["posteam_is_home"].to_numpy())

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {
            output: self._home(frame, self._label_wp(frame, name))
            for name, (output, _) in self.variants.items()
        }

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "logistic.json").write_text(json.dumps(self.coefficients, indent=1))

    @classmethod
    def load(cls, folder: Path) -> LogisticWpModel:
        return cls(json.loads((folder / "logistic.json").read_text()))

    def describe(self) -> dict:
        return {
            name: {"features": c["features"], "model": "sklearn LogisticRegression"}
            for name, c in self.coefficients.items()
        }


class NbaLogisticWpModel(LogisticWpModel):
    """NBA baseline: logistic regression of the home team's win on the NBA features."""

    kind: ClassVar[str] = "logistic_nba_wp"
    variants: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {"home_wp": ("home_wp", NBA_WP_FEATURES)}
    label: ClassVar[str] = "home_win"

    @staticmethod
    def _home(frame: pd.DataFrame, wp: np.ndarray) -> np.ndarray:
        return wp


@dataclass
class ScoreModel:
    """Predicted final home and away points: current score + points still to come.

    One two-output xgboost model (home, away) learns corrections to the lines' prior (`line_prior`), so a
    prediction is one call, which keeps single-play inference fast.
    """

    kind: ClassVar[str] = "xgboost_score"
    booster: xgb.Booster

    @classmethod
    def fit(cls, rows: pd.DataFrame) -> ScoreModel:
        """Trained on every play seen from both sides (`mirrored`): the lines already price home field, and a
        home bias learnt from the other seasons is noise that moves the kickoff prediction off the spread."""
        both = pd.concat([rows, mirrored(rows)], ignore_index=True)
        to_come = pd.DataFrame(
            {
                "home": both["home_final_score"] - both["home_score"],
                "away": both["away_final_score"] - both["away_score"],
            }
        )
        return cls(SCORE.fit(both, to_come, base_margin=np.column_stack(frame_prior(both))))

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        to_come = predict_booster(self.booster, frame, SCORE.features, np.column_stack(frame_prior(frame)))
        to_come = np.clip(to_come, 0, None)
        return {
            "pred_home_score": frame["home_score"].to_numpy() + to_come[:, 0],
            "pred_away_score": frame["away_score"].to_numpy() + to_come[:, 1],
        }

    def save(self, folder: Path) -> None:
        _save_boosters(folder, {"points_to_come": self.booster})

    @classmethod
    def load(cls, folder: Path) -> ScoreModel:
        return cls(_load_booster(folder, "points_to_come"))

    def describe(self) -> dict:
        return {
            "points_to_come": {
                "features": list(SCORE.features),
                "outputs": ["home", "away"],
                "prior": "pre-game lines x share of time left (line_prior)",
                "params": SCORE.full_params(),
                "rounds": SCORE.rounds,
            }
        }


MODEL_CLASSES: dict[str, type] = {
    cls.kind: cls for cls in (WpModel, LogisticWpModel, ScoreModel, NbaWpModel, NbaLogisticWpModel)
}


def load_model(kind: str, folder: Path) -> Model:
    return MODEL_CLASSES[kind].load(folder)
