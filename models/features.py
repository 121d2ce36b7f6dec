"""Model inputs, from the feature marts: the NFL's (nflfastR's features, final score) and the NBA's.

The mart `marts.nfl_wp_features` already holds every feature (built by dbt from the game feed). Any nflverse
play-by-play file (full schema) can be turned into the same columns by `from_nflverse`, so the models score
nflfastR's own data and the comparison with nflfastR uses the same plays. `marts.nba_wp_features` holds the
NBA game state before every action; files become the same rows through the same dbt SQL (models/predict.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# nflfastR's WP model features (posteam's point of view), in its order; `spread_time` only in the spread model
WP_FEATURES: tuple[str, ...] = (
    "receive_2h_ko",
    "posteam_is_home",
    "half_seconds_remaining",
    "game_seconds_remaining",
    "diff_time_ratio",
    "score_differential",
    "down",
    "ydstogo",
    "yardline_100",
    "posteam_timeouts_remaining",
    "defteam_timeouts_remaining",
)
WP_SPREAD_FEATURES: tuple[str, ...] = (*WP_FEATURES, "spread_time")
# +1: more of it never lowers posteam's win probability; -1: never raises it
MONOTONE = {
    "diff_time_ratio": 1,
    "score_differential": 1,
    "down": -1,
    "ydstogo": -1,
    "yardline_100": -1,
    "posteam_timeouts_remaining": 1,
    "defteam_timeouts_remaining": -1,
    "spread_time": 1,
}
# final-score model: the state from the home team's side; the pre-game lines enter as its prior, not as splits
SCORE_FEATURES: tuple[str, ...] = (
    "home_score",
    "away_score",
    "game_seconds_remaining",
    "half_seconds_remaining",
    "posteam_is_home",
    "receive_2h_ko",
    "down",
    "ydstogo",
    "yardline_100",
    "home_timeouts_remaining",
    "away_timeouts_remaining",
)
LINES = ("spread_line", "total_line")
# the NFL game as a Brownian motion from posteam's side (as NBA_BROWNIAN_FEATURES): the lead, possession and
# field position over the square root of the minutes left (+ NFL_LEAD_MINUTES), and posteam's spread (the
# drift) times the square root of the share of the game left; posteam's win log-odds are near-linear in these
# (computed from mart columns by `nfl_brownian_features`)
WP_BROWNIAN_FEATURES: tuple[str, ...] = ("lead_root_time", "possession_root_time", "field_root_time")
WP_SPREAD_BROWNIAN_FEATURES: tuple[str, ...] = (*WP_BROWNIAN_FEATURES, "spread_root_time")
NFL_LEAD_MINUTES = 0.5
NFL_UNKNOWN_YARDLINE = 75  # a missing field position counts as a touchback's
# columns that trade places when a game is seen from the other side (home ↔ away), for `mirrored`
HOME_AWAY_PAIRS = (
    ("home_score", "away_score"),
    ("home_timeouts_remaining", "away_timeouts_remaining"),
    ("home_final_score", "away_final_score"),
)
# NBA win probability of the home team: the game state before the action and a pre-game strength (NaN when
# a team has not played yet, or a file is scored without the game log)
NBA_WP_FEATURES: tuple[str, ...] = (
    "period",
    "period_seconds_remaining",
    "game_seconds_remaining",
    "score_diff",
    "diff_time_ratio",
    "home_has_possession",
    "home_fouls_period",
    "away_fouls_period",
    "home_in_penalty",
    "away_in_penalty",
    "home_points_last_2min",
    "away_points_last_2min",
    "home_points_last_5min",
    "away_points_last_5min",
    "home_run_points",
    "strength_diff",
    "strength_time",
)
NBA_MONOTONE = {"score_diff": 1, "diff_time_ratio": 1, "strength_diff": 1, "strength_time": 1}
# each team's season-to-date point differential per game and the number of games it is based on
NBA_STRENGTH_INPUTS = ("home_strength", "away_strength", "home_prior_games", "away_prior_games")
# the game as a Brownian motion (Stern 1994): the final margin is the lead plus a drift (strength, home court)
# times the time left plus noise with a standard deviation growing as its square root, so the home win's
# log-odds are near-linear in these (computed from mart columns by `nba_brownian_features`)
NBA_BROWNIAN_FEATURES: tuple[str, ...] = (
    "lead_root_time",
    "possession_root_time",
    "strength_root_time",
    "home_root_time",
)
NBA_LEAD_MINUTES = 0.1  # added to the minutes left: a lead at 0:00 is near-decisive, free throws may follow
NBA_STRENGTH_PRIOR_GAMES = 10  # a strength of n games counts n / (n + 10): shrunk towards the league's 0
NBA_KEYS = ("game_id", "action_id", "action_number", "season")
NBA_LABELS = ("home_win",)
OVERTIME = 5  # calibration and per-period tables count every overtime as one period
ALL_FEATURES: tuple[str, ...] = tuple(dict.fromkeys((*WP_SPREAD_FEATURES, *SCORE_FEATURES, *LINES)))
KEYS = ("game_id", "play_id", "season", "quarter")
LABELS = ("posteam_win", "home_win", "home_final_score", "away_final_score")

# columns an nflverse play-by-play file must have to be scored
NFLVERSE_REQUIRED = (
    "game_id", "play_id", "season", "qtr", "home_team", "away_team", "posteam", "half_seconds_remaining",
    "game_seconds_remaining", "down", "ydstogo", "yardline_100", "posteam_timeouts_remaining",
    "defteam_timeouts_remaining", "posteam_score", "defteam_score", "spread_line", "total_line",
)  # fmt: skip


class MissingColumnsError(ValueError):
    """An input lacks columns the models need."""


def mart_query(relation: str = "marts.nfl_wp_features") -> str:
    """Every play with possession known of a mart-shaped relation: keys, features, labels, training flags."""
    columns = ", ".join(dict.fromkeys((*KEYS, *ALL_FEATURES, *LABELS)))
    return (
        f"select {columns}, is_model_play, is_regulation, play_type "
        f"from {relation} where posteam is not null order by game_id, play_sequence"
    )


def nba_mart_query(relation: str = "marts.nba_wp_features") -> str:
    """Every action of an nba_wp_features-shaped relation (ordered by game_id, action_id): keys, features,
    labels; `period_group` is the period with every overtime as 5; `ends_game` marks the end of the last
    period (the 4th or an overtime, not tied)."""
    columns = ", ".join(dict.fromkeys((*NBA_KEYS, *NBA_WP_FEATURES, *NBA_STRENGTH_INPUTS, *NBA_LABELS)))
    return (
        f"select {columns}, least(period, {OVERTIME}) as period_group, "
        "(action_type = 'period' and sub_type = 'end' and period >= 4 "
        "and home_score_after <> away_score_after) as ends_game, home_score_after, away_score_after "
        f"from {relation} order by game_id, action_id"
    )


MART_QUERIES = {"nfl": mart_query, "nba": nba_mart_query}
NUMERIC = {"nfl": ALL_FEATURES, "nba": (*NBA_WP_FEATURES, *NBA_STRENGTH_INPUTS)}  # features as float64


def query_frame(con, query: str, sport: str) -> pd.DataFrame:
    """The rows of a MART_QUERIES query (or of its result saved to a file) as the models read them."""
    return _numeric(con.execute(query).df(), NUMERIC[sport])


def mart_frame(con, relation: str = "marts.nfl_wp_features") -> pd.DataFrame:
    """`mart_query`'s rows of `relation`."""
    return query_frame(con, mart_query(relation), "nfl")


def nba_mart_frame(con, relation: str = "marts.nba_wp_features") -> pd.DataFrame:
    """`nba_mart_query`'s rows of `relation`."""
    return query_frame(con, nba_mart_query(relation), "nba")


def nba_brownian_features(frame: pd.DataFrame) -> pd.DataFrame:
    """NBA_BROWNIAN_FEATURES of nba_mart_frame rows: the lead and the possession (+1 home, -1 away, 0 unknown)
    over the square root of the minutes left (+ NBA_LEAD_MINUTES), and the drifts, the shrunk strength
    difference (a team without games counts 0) and the home court, times the square root of the share of a
    game left. Same index as `frame`."""
    minutes = frame["game_seconds_remaining"].to_numpy(dtype=np.float64) / 60
    noise = np.sqrt(minutes + NBA_LEAD_MINUTES)
    share = np.sqrt(minutes / 48)
    possession = 2 * frame["home_has_possession"].fillna(0.5).to_numpy(dtype=np.float64) - 1
    strength = _shrunk_strength(frame, "home") - _shrunk_strength(frame, "away")
    lead = frame["score_diff"].to_numpy(dtype=np.float64)
    columns = (lead / noise, possession / noise, strength * share, share)
    return pd.DataFrame(dict(zip(NBA_BROWNIAN_FEATURES, columns, strict=True)), index=frame.index)


def _shrunk_strength(frame: pd.DataFrame, side: str) -> np.ndarray:
    games = frame[f"{side}_prior_games"].to_numpy(dtype=np.float64)
    strength = frame[f"{side}_strength"].to_numpy(dtype=np.float64)
    return np.nan_to_num(strength * games / (games + NBA_STRENGTH_PRIOR_GAMES), nan=0.0)


def nba_training_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Every action of a game with a result."""
    return frame[frame["home_win"].isin([0.0, 1.0])]


def _numeric(frame: pd.DataFrame, features: tuple[str, ...] = ALL_FEATURES) -> pd.DataFrame:
    for column in features:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def wp_training_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """nflfastR's WP training filter: real snaps in regulation with a decided result and a line."""
    keep = frame["is_model_play"] & frame["is_regulation"] & frame["posteam_win"].isin([0.0, 1.0])
    return frame[keep & frame["spread_line"].notna()]


def nfl_brownian_features(frame) -> dict[str, np.ndarray]:
    """WP_SPREAD_BROWNIAN_FEATURES of mart-shaped rows (a DataFrame, or a dict of one state's values)."""
    minutes = np.asarray(frame["game_seconds_remaining"], dtype=np.float64) / 60
    noise = np.sqrt(np.clip(minutes, 0, None) + NFL_LEAD_MINUTES)
    share = np.sqrt(np.clip(minutes / 60, 0, 1))
    sign = np.where(np.asarray(frame["posteam_is_home"], dtype=np.float64) > 0.5, 1.0, -1.0)
    spread = np.nan_to_num(sign * np.asarray(frame["spread_line"], dtype=np.float64))
    yardline = np.nan_to_num(np.asarray(frame["yardline_100"], dtype=np.float64), nan=NFL_UNKNOWN_YARDLINE)
    lead = np.asarray(frame["score_differential"], dtype=np.float64)
    columns = (lead / noise, 1 / noise, (50 - yardline) / noise, spread * share)
    return dict(zip(WP_SPREAD_BROWNIAN_FEATURES, columns, strict=True))


def mirrored(rows: pd.DataFrame) -> pd.DataFrame:
    """The same plays seen from the other side: home and away columns swapped, the spread negated.

    posteam stays the same team, so its columns (and spread_time) do not change.
    """
    out = rows.copy()
    for home, away in HOME_AWAY_PAIRS:
        out[home], out[away] = rows[away], rows[home]
    out["posteam_is_home"] = 1 - rows["posteam_is_home"]
    out["spread_line"] = -rows["spread_line"]
    return out


def score_training_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Every play with possession known and final scores, overtime included (the final score counts it)."""
    return frame[frame["home_final_score"].notna() & frame["spread_line"].notna()]


def from_nflverse(pbp: pd.DataFrame, source: str = "input") -> pd.DataFrame:
    """nflverse play-by-play (full schema) → the model columns, one row per input row, in input order."""
    missing = [c for c in NFLVERSE_REQUIRED if c not in pbp.columns]
    if missing:
        raise MissingColumnsError(f"{source} lacks column(s) the models need: {', '.join(missing)}")
    out = pd.DataFrame({"game_id": pbp["game_id"], "play_id": pbp["play_id"], "season": pbp["season"]})
    out["quarter"] = pbp["qtr"]
    posteam = pbp["posteam"].where(pbp["posteam"].notna(), pbp["home_team"])  # no possession: home's view
    is_home = posteam == pbp["home_team"]
    out["posteam_is_home"] = is_home.astype(float)
    for column in ("half_seconds_remaining", "game_seconds_remaining", "down", "ydstogo", "yardline_100"):
        out[column] = pbp[column]
    own, other = pbp["posteam_score"], pbp["defteam_score"]
    out["home_score"] = np.where(is_home, own, other)
    out["away_score"] = np.where(is_home, other, own)
    # rows without possession (timeouts, quarter ends) carry the game's last known score
    for side in ("home_score", "away_score"):
        out[side] = out.groupby("game_id")[side].transform(lambda s: s.ffill().fillna(0))
    out["score_differential"] = np.where(is_home, 1, -1) * (out["home_score"] - out["away_score"])
    own_to, other_to = pbp["posteam_timeouts_remaining"], pbp["defteam_timeouts_remaining"]
    out["posteam_timeouts_remaining"], out["defteam_timeouts_remaining"] = own_to, other_to
    out["home_timeouts_remaining"] = np.where(is_home, own_to, other_to)
    out["away_timeouts_remaining"] = np.where(is_home, other_to, own_to)
    out["receive_2h_ko"] = ((pbp["qtr"] <= 2) & (posteam == _opening_kicking_team(pbp))).astype(float)
    out["spread_line"], out["total_line"] = pbp["spread_line"], pbp["total_line"]
    elapsed = ((3600 - out["game_seconds_remaining"]) / 3600).clip(0, 1)
    decay = np.exp(-4 * elapsed)
    out["diff_time_ratio"] = out["score_differential"] / decay
    out["spread_time"] = np.where(is_home, 1, -1) * out["spread_line"] * decay
    return _numeric(out)


def _opening_kicking_team(pbp: pd.DataFrame) -> pd.Series:
    """The team that kicked off to start the game (it receives the second-half kickoff), per row."""
    if "home_opening_kickoff" in pbp.columns and pbp["home_opening_kickoff"].notna().all():
        return pd.Series(
            np.where(pbp["home_opening_kickoff"] == 1, pbp["away_team"], pbp["home_team"]), pbp.index
        )
    kickoffs = (
        pbp[(pbp.get("play_type") == "kickoff") & pbp["posteam"].notna()] if "play_type" in pbp else pbp[:0]
    )
    receiving = kickoffs.groupby("game_id")["posteam"].first()  # nflverse: posteam on a kickoff receives it
    first_receiver = pbp["game_id"].map(receiving)
    return pd.Series(
        np.where(first_receiver == pbp["home_team"], pbp["away_team"], pbp["home_team"]), pbp.index
    ).where(first_receiver.notna())


def matrix(frame: pd.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    """The float32 feature matrix in the given column order (NaN = missing, which xgboost handles)."""
    return frame.loc[:, list(features)].to_numpy(dtype=np.float32, na_value=np.nan)


def home_wp(posteam_wp: np.ndarray, posteam_is_home: np.ndarray) -> np.ndarray:
    """The home team's win probability from posteam's."""
    return np.where(posteam_is_home > 0.5, posteam_wp, 1.0 - posteam_wp)
