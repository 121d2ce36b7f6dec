"""Honest evaluation: leave-one-season-out predictions, nflfastR's calibration error, score errors, plots."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

BIN_WIDTH = 0.05


@dataclass(frozen=True)
class Fold:
    """One leave-one-season-out fold: which seasons trained the model that predicted `held_out`."""

    held_out: int
    training_seasons: tuple[int, ...]


def loso_predict(
    frame: pd.DataFrame,
    fit: Callable[[pd.DataFrame], object],
    predict: Callable[[object, pd.DataFrame], np.ndarray | dict[str, np.ndarray]],
    train_rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f,
) -> tuple[pd.DataFrame, list[Fold]]:
    """Predict every season with a model fitted on all the other seasons (never on the season itself)."""
    seasons = sorted(frame["season"].unique())
    if len(seasons) < 2:
        raise ValueError(f"leave-one-season-out needs at least two seasons, got {seasons}")
    parts, folds = [], []
    for season in seasons:
        training = train_rows(frame[frame["season"] != season])
        folds.append(Fold(int(season), tuple(int(s) for s in sorted(training["season"].unique()))))
        model = fit(training)
        held_out = frame[frame["season"] == season].copy()
        predictions = predict(model, held_out)
        for name, values in (predictions if isinstance(predictions, dict) else {"pred": predictions}).items():
            held_out[name] = values
        parts.append(held_out)
    return pd.concat(parts), folds


def calibration_table(label: np.ndarray, prob: np.ndarray, period: np.ndarray) -> pd.DataFrame:
    """Plays per period (quarter) and 0.05-wide predicted-probability bin, with the observed win rate
    (nflfastR's method; the NBA passes every overtime as one period)."""
    table = pd.DataFrame(
        {"period": period, "bin_pred_prob": np.round(prob / BIN_WIDTH) * BIN_WIDTH, "label": label}
    )
    table = table.groupby(["period", "bin_pred_prob"], as_index=False).agg(
        n_plays=("label", "size"), n_wins=("label", "sum")
    )
    table["bin_actual_prob"] = table["n_wins"] / table["n_plays"]
    return table


def calibration_error(label: np.ndarray, prob: np.ndarray, period: np.ndarray) -> float:
    """nflfastR's calibration error: |bin - observed| weighted by plays within a period, periods by wins."""
    table = calibration_table(label, prob, period)
    table["cal_diff"] = (table["bin_pred_prob"] - table["bin_actual_prob"]).abs()
    per_period = table.groupby("period").apply(
        lambda q: pd.Series(
            {"error": np.average(q["cal_diff"], weights=q["n_plays"]), "n_wins": q["n_wins"].sum()}
        ),
        include_groups=False,
    )
    return float(np.average(per_period["error"], weights=per_period["n_wins"]))


def wp_metrics(label: np.ndarray, prob: np.ndarray, period: np.ndarray) -> dict[str, float]:
    """Brier score, log loss, AUC, accuracy and calibration error of win probabilities."""
    label = np.asarray(label, dtype=float)
    prob = np.clip(np.asarray(prob, dtype=float), 1e-7, 1 - 1e-7)
    return {
        "brier": float(brier_score_loss(label, prob)),
        "log_loss": float(log_loss(label, prob, labels=[0.0, 1.0])),
        "auc": float(roc_auc_score(label, prob)),
        "accuracy": float(np.mean((prob > 0.5) == (label > 0.5))),
        "calibration_error": calibration_error(label, prob, np.asarray(period)),
        "plays": len(label),
    }


def wp_metrics_by_season(
    predictions: pd.DataFrame, prob_column: str, label_column: str, period_column: str = "quarter"
) -> dict:
    """Overall and per-held-out-season metrics (the registry compares champions season by season)."""

    def metrics(part: pd.DataFrame) -> dict[str, float]:
        return wp_metrics(part[label_column], part[prob_column], part[period_column])

    return {
        "overall": metrics(predictions),
        "by_season": {str(s): metrics(p) for s, p in predictions.groupby("season")},
    }


def per_period_table(
    predictions: pd.DataFrame, prob_column: str, label_column: str, period_column: str = "quarter"
) -> pd.DataFrame:
    """Metrics per period (quarter; overtime as period 5 when present)."""
    rows = [
        {"period": int(q), **wp_metrics(p[label_column], p[prob_column], p[period_column])}
        for q, p in predictions.groupby(period_column)
        if p[label_column].nunique() == 2
    ]
    return pd.DataFrame(rows)


def score_metrics(predictions: pd.DataFrame) -> dict[str, float]:
    """MAE of final home/away points and of the final margin, over all plays and at kickoff.

    `predictions` needs pred_home_score, pred_away_score, home/away_final_score, spread_line and play_type.
    At kickoff (each game's opening kickoff) the predicted margin is compared with the spread's own error
    on the same games.
    """
    home_error = (predictions["pred_home_score"] - predictions["home_final_score"]).abs()
    away_error = (predictions["pred_away_score"] - predictions["away_final_score"]).abs()
    margin = predictions["home_final_score"] - predictions["away_final_score"]
    predicted_margin = predictions["pred_home_score"] - predictions["pred_away_score"]
    kickoff = predictions[
        (predictions["play_type"] == "KICK_OFF") & (predictions["game_seconds_remaining"] >= 3600)
    ].drop_duplicates("game_id")
    kickoff_margin = kickoff["home_final_score"] - kickoff["away_final_score"]
    return {
        "mae_home": float(home_error.mean()),
        "mae_away": float(away_error.mean()),
        "mae_per_team": float((home_error.mean() + away_error.mean()) / 2),
        "mae_margin": float((predicted_margin - margin).abs().mean()),
        "kickoff_games": len(kickoff),
        "kickoff_mae_margin": float(
            ((kickoff["pred_home_score"] - kickoff["pred_away_score"]) - kickoff_margin).abs().mean()
        ),
        "kickoff_mae_margin_spread": float((kickoff["spread_line"] - kickoff_margin).abs().mean()),
        "kickoff_mae_total": float(
            (
                (kickoff["pred_home_score"] + kickoff["pred_away_score"])
                - (kickoff["home_final_score"] + kickoff["away_final_score"])
            )
            .abs()
            .mean()
        ),
        "plays": len(predictions),
    }


def calibration_plot(tables: dict[str, pd.DataFrame]) -> bytes:
    """A PNG: observed vs predicted win rate per period (5: overtime), one series per model, sized by rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    periods = sorted({int(q) for t in tables.values() for q in t["period"].unique()})
    scale = max(t["n_plays"].sum() for t in tables.values()) / 2000  # marker areas comparable across sports
    figure, axes = plt.subplots(1, len(periods), figsize=(4 * len(periods), 4.2), sharey=True)
    for axis, period in zip(np.atleast_1d(axes), periods, strict=True):
        for name, table in tables.items():
            part = table[table["period"] == period]
            axis.scatter(
                part["bin_pred_prob"],
                part["bin_actual_prob"],
                s=part["n_plays"] / scale,
                alpha=0.6,
                label=name,
            )
        axis.plot([0, 1], [0, 1], "k--", lw=1)
        title = "Overtime" if period >= 5 else f"Period {period}"
        axis.set(title=title, xlabel="predicted win probability", xlim=(0, 1), ylim=(0, 1))
    np.atleast_1d(axes)[0].set_ylabel("observed win rate")
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def compare_with_nflfastr(
    pbp: pd.DataFrame, predictions: pd.DataFrame, source: str = "input"
) -> pd.DataFrame:
    """playcast's and nflfastR's win probabilities on the same plays (posteam's view, ties excluded).

    `pbp` is nflverse play-by-play with nflfastR's `home_wp`, `vegas_home_wp` and `result`; `predictions` is
    playcast's output for the same rows, in the same order.
    """
    missing = [
        c for c in ("home_wp", "vegas_home_wp", "result", "posteam", "home_team", "qtr") if c not in pbp
    ]
    if missing:
        raise ValueError(f"{source} lacks nflfastR's column(s) needed for a comparison: {', '.join(missing)}")
    pbp = pbp.reset_index(drop=True)
    keep = (
        pbp["posteam"].notna() & pbp["home_wp"].notna() & pbp["vegas_home_wp"].notna() & pbp["result"].notna()
        & (pbp["result"] != 0) & predictions["home_wp"].notna()
    )  # fmt: skip
    pbp, predictions = pbp[keep], predictions.reset_index(drop=True)[keep]
    is_home = (pbp["posteam"] == pbp["home_team"]).to_numpy()
    label = np.where(is_home, pbp["result"] > 0, pbp["result"] < 0).astype(float)

    def posteam(home: pd.Series) -> np.ndarray:
        return np.where(is_home, home, 1 - home)

    rows = {
        "playcast wp": posteam(predictions["home_wp"]),
        "nflfastR wp": posteam(pbp["home_wp"]),
        "playcast wp (spread)": posteam(predictions["home_wp_spread"]),
        "nflfastR vegas_wp": posteam(pbp["vegas_home_wp"]),
    }
    return pd.DataFrame({name: wp_metrics(label, p, pbp["qtr"].to_numpy()) for name, p in rows.items()}).T


# Stern (1994): the home margin over the time left is normal, mean 2.5 points (home court) and standard
# deviation 12.5 points per 48 minutes, both scaled by the share of the game left
NAIVE_HOME_EDGE, NAIVE_SIGMA = 2.5, 12.5


def naive_nba_wp(frame: pd.DataFrame) -> np.ndarray:
    """A naive NBA home win probability from the score and clock alone (no fitting): Stern's normal model."""
    from scipy.stats import norm

    left = np.clip(frame["game_seconds_remaining"].to_numpy(dtype=float) / 2880.0, 1e-6, None)
    margin = frame["score_diff"].to_numpy(dtype=float) + NAIVE_HOME_EDGE * left
    return norm.cdf(margin / (NAIVE_SIGMA * np.sqrt(left)))


def compare_with_naive(frame: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """playcast's NBA win probabilities next to the naive model's, on the actions of games with a result.

    `frame` is nba_mart_frame rows (with home_win from raw.nba_games), `predictions` playcast's output for
    the same rows in the same order.
    """
    known = frame["home_win"].isin([0.0, 1.0]).to_numpy()
    if not known.any():
        raise ValueError("no action of the input belongs to a game with a result in raw.nba_games")
    frame, home_wp = frame[known], predictions["home_wp"].to_numpy()[known]
    rows = {"playcast": home_wp, "naive (score and clock, Stern 1994)": naive_nba_wp(frame)}
    label, period = frame["home_win"].to_numpy(), frame["period_group"].to_numpy()
    return pd.DataFrame({name: wp_metrics(label, p, period) for name, p in rows.items()}).T
