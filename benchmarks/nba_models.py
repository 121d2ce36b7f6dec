"""NBA models: leave-one-season-out Brier score and calibration error (issue 5 targets), training, scoring.

Usage: PLAYCAST_WAREHOUSE=path/to/playcast.duckdb .venv/bin/python -m benchmarks.nba_models
The warehouse (read-only) needs marts.nba_wp_features of the seasons to train on (the mirror has three).
Models are trained in memory, nothing is registered or written. BENCHMARKS.md has the write-up.
"""

import time

import pandas as pd

from benchmarks.models import machine, met, section, table, timed
from models.evaluate import naive_nba_wp, wp_metrics
from models.features import nba_mart_frame
from models.pipeline import SPECS, train_candidate
from models.predict import NbaPredictor
from warehouse import connect, warehouse_path

BRIER_TARGET, CALIBRATION_TARGET = 0.160, 0.01
COLUMNS = ("plays", "brier", "log_loss", "auc", "accuracy", "calibration_error")


def main() -> None:
    machine()
    with connect(read_only=True) as con:
        started = time.perf_counter()
        frame = nba_mart_frame(con)
    seasons = sorted(int(s) for s in frame["season"].unique())
    print(f"warehouse: {warehouse_path()}, {len(frame)} actions of seasons {seasons}, ", end="")
    print(f"read in {time.perf_counter() - started:.1f} s")

    section("1. Training: leave-one-season-out evaluation + final fit")
    candidates, rows = {}, []
    for name in ("nba_wp", "nba_wp_baseline"):
        started = time.perf_counter()
        candidates[name] = train_candidate(SPECS[name], frame, log=lambda _: None)
        rows.append([name, candidates[name].training_rows, time.perf_counter() - started])
    table(rows, ["model", "training rows", "seconds"], ".1f")

    section("2. Home win probability, leave-one-season-out, every action")
    labelled = frame[frame["home_win"].isin([0.0, 1.0])]
    naive = wp_metrics(labelled["home_win"], naive_nba_wp(labelled), labelled["period_group"])
    overall = [[name, *(c.metrics["variants"]["home_wp"]["overall"][k] for k in COLUMNS)] for name, c in
               candidates.items()]  # fmt: skip
    overall.append(["naive (Stern 1994, no fitting)", *(naive[k] for k in COLUMNS)])
    table(overall, ["model", "actions", "brier", "log loss", "auc", "accuracy", "cal. error"])
    for name, candidate in candidates.items():
        o = candidate.metrics["variants"]["home_wp"]["overall"]
        brier, calibration = o["brier"], o["calibration_error"]
        ok = met(brier <= BRIER_TARGET), met(calibration <= CALIBRATION_TARGET)
        print(f"{name}: Brier {brier:.4f} (<= {BRIER_TARGET}: {ok[0]}), calibration error {calibration:.4f} "
              f"(<= {CALIBRATION_TARGET}: {ok[1]})")  # fmt: skip
    print("\nper held-out season: Brier / calibration error / log loss")
    by_season = [
        [name]
        + [f"{m['brier']:.4f} / {m['calibration_error']:.4f} / {m['log_loss']:.4f}" for m in by.values()]
        for name, by in ((n, c.metrics["variants"]["home_wp"]["by_season"]) for n, c in candidates.items())
    ]
    table(by_season, ["model", *candidates["nba_wp"].metrics["variants"]["home_wp"]["by_season"]])
    print("\nper period (nba_wp; 5 = every overtime)")
    print(pd.DataFrame(candidates["nba_wp"].metrics["per_period"]["home_wp"]).round(4).to_string(index=False))

    section("3. Batch scoring with the final model (nba_mart_frame rows)")
    predictor = NbaPredictor(candidates["nba_wp"].model, "bench", seasons)
    seconds = min(timed(lambda: predictor.predict_frame(frame)) for _ in range(3))
    rate = len(frame) / seconds
    print(f"predict_frame, {len(frame)} actions, best of 3: {seconds:.2f} s, {rate:,.0f} actions/s")


if __name__ == "__main__":
    main()
