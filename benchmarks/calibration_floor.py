"""How low nflfastR's calibration error can go with a given number of games: its value for a PERFECT model.

The calibration error (models/evaluate.py: bins of 0.05 per quarter, |predicted - observed| weighted by plays,
quarters by wins) compares predictions with observed win rates, and the plays of a game share one result, so
even true probabilities score above zero, the more so the fewer the games. This script measures that floor on
simulated seasons where the true win probability of every play is known: Stern's (1994) model of the home
margin as a Brownian motion over the game, drift the spread, volatility s the spread's error in the real
games (games.csv), so the home team's true win probability after a share t of the game with margin m is
Phi((m + spread * (1 - t)) / (s * sqrt(1 - t))). Spreads are drawn from the real games, plays per game
from the mart's average. Real scoring moves in jumps, so this is the order of the floor, not its exact value.

Usage: PLAYCAST_DATA_MIRROR=../shared/data .venv/bin/python -m benchmarks.calibration_floor \
    [--replications 100]
"""

import argparse

import numpy as np
import pandas as pd
from scipy.stats import norm
from tabulate import tabulate

from ingest.mirror import first_existing, mirror_root
from models.evaluate import calibration_error

PLAYS_PER_GAME = 188  # marts.nfl_wp_features 2019-2023: 251,607 plays of 1,335 games
GAMES = {"one season": 267, "playcast's five seasons (2019-2023)": 1335, "nflfastR's ~19 (2001-2019)": 5000}


def simulated_error(spreads: np.ndarray, sigma: float, rng: np.random.Generator) -> float:
    """The calibration error of the true win probabilities of len(spreads) simulated games."""
    games, plays = len(spreads), PLAYS_PER_GAME
    t = np.sort(rng.uniform(0, 1, (games, plays)), axis=1)
    steps = np.diff(t, axis=1, prepend=0.0)
    margin = np.cumsum(
        spreads[:, None] * steps + sigma * np.sqrt(steps) * rng.standard_normal(steps.shape), 1
    )
    final = (
        margin[:, -1] + spreads * (1 - t[:, -1]) + sigma * np.sqrt(1 - t[:, -1]) * rng.standard_normal(games)
    )
    prob = norm.cdf((margin + spreads[:, None] * (1 - t)) / (sigma * np.sqrt(1 - t)))
    label = np.repeat(final > 0, plays).astype(float)
    quarter = np.minimum(np.floor(t * 4) + 1, 4).ravel()
    return calibration_error(label, prob.ravel(), quarter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replications", type=int, default=100)
    args = parser.parse_args()
    root = mirror_root()
    games = pd.read_csv(first_existing([root / "nfl" / "games.csv"] if root else [], "NFL games (games.csv)"))
    games = games[
        games["season"].between(2019, 2023) & games["spread_line"].notna() & games["result"].notna()
    ]
    sigma = float((games["result"] - games["spread_line"]).std())
    rng = np.random.default_rng(2026)
    rows = []
    for label, n in GAMES.items():
        errors = [
            simulated_error(rng.choice(games["spread_line"].to_numpy(), n), sigma, rng)
            for _ in range(args.replications)
        ]
        rows.append([label, n, np.mean(errors), *np.percentile(errors, [10, 90])])
    print(
        f"spread error s = {sigma:.2f} points ({len(games)} games 2019-2023), {args.replications} runs each"
    )
    print(tabulate(rows, ["games", "n", "mean", "p10", "p90"], floatfmt=".4f"))


if __name__ == "__main__":
    main()
