"""NFL models: training time, held-out metrics, nflfastR on the same plays, inference speed (issue 3 targets).
The NBA models have their own script, benchmarks/nba_models.py.

Usage: PLAYCAST_WAREHOUSE=path/to/playcast.duckdb PLAYCAST_DATA_MIRROR=../shared/data \
    .venv/bin/python -m benchmarks.models
The warehouse (read-only) needs the marts of the seasons to train on. Models are trained in memory, nothing is
registered or written. Prints measured numbers next to the targets; BENCHMARKS.md has the write-up.
"""

import os
import platform
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from tabulate import tabulate

from ingest.mirror import mirror_root
from models import features
from models.evaluate import compare_with_nflfastr
from models.pipeline import SPECS, WP_VARIANTS, train_candidate
from models.predict import NflPredictor, read_plays
from models.registry import library_versions
from models.train import WpModel
from warehouse import connect, warehouse_path

FULL_FILES = ("play_by_play_2020_weeks01-05.parquet", "play_by_play_2021_weeks01-05.parquet")
WP_TARGETS = {"home_wp": 0.52, "home_wp_spread": 0.44}  # log loss; calibration error <= 0.0055 for both
CALIBRATION_TARGET = 0.0055
WP_COLUMNS = ("plays", "brier", "log_loss", "auc", "accuracy", "calibration_error")
SCORE_COLUMNS = (
    "plays", "mae_per_team", "mae_margin", "kickoff_games", "kickoff_mae_margin", "kickoff_mae_margin_spread",
    "kickoff_mae_total",
)  # fmt: skip


def section(title: str) -> None:
    print(f"\n== {title}")


def table(rows, headers, floatfmt=".4f") -> None:
    print(tabulate(rows, headers=headers, tablefmt="simple", floatfmt=floatfmt))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine() -> None:
    cpuinfo, meminfo = (Path(f"/proc/{name}").read_text().splitlines() for name in ("cpuinfo", "meminfo"))
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    print(f"machine: {os.cpu_count()} cores ({cpu}), {mem_kb / 2**20:.1f} GiB RAM, {platform.platform()}")
    versions = {**library_versions(), "duckdb": duckdb.__version__}
    print("libraries: " + ", ".join(f"{name} {version}" for name, version in versions.items()))


def train_all(frame: pd.DataFrame) -> dict:
    section("1. Training: leave-one-season-out evaluation + final fit, every model, all seasons")
    candidates, rows = {}, []
    for name, spec in ((n, s) for n, s in SPECS.items() if s.sport == "nfl"):
        started = time.perf_counter()
        candidates[name] = train_candidate(spec, frame, log=lambda _: None)
        rows.append([name, candidates[name].training_rows, time.perf_counter() - started])
    total = sum(r[2] for r in rows)
    rows.append(["total", sum(r[1] for r in rows), total])
    table(rows, ["model", "training rows", "seconds"], ".1f")
    print(f"target < 180 s: {total:.1f} s, {met(total < 180)}")
    return candidates


def wp_metrics_report(candidates: dict) -> None:
    section("2a. Win probability, leave-one-season-out (posteam's view, as nflfastR)")
    overall, by_season = [], []
    for name in ("nfl_wp", "nfl_wp_baseline"):
        for variant in WP_VARIANTS:
            m = candidates[name].metrics["variants"][variant]
            o = m["overall"]
            target = f"ll <= {WP_TARGETS[variant]}, cal <= {CALIBRATION_TARGET}"
            ok = o["log_loss"] <= WP_TARGETS[variant] and o["calibration_error"] <= CALIBRATION_TARGET
            overall.append([f"{name} {variant}", *(o[k] for k in WP_COLUMNS), target, met(ok)])
            seasons = m["by_season"]
            by_season.append(
                [f"{name} {variant}"]
                + [f"{s['log_loss']:.4f} / {s['calibration_error']:.4f}" for s in seasons.values()]
            )
    headers = ["model", "plays", "brier", "log loss", "auc", "accuracy", "cal. error", "target", ""]
    table(overall, headers)
    print("\nper held-out season: log loss / calibration error")
    table(by_season, ["model", *candidates["nfl_wp"].metrics["variants"]["home_wp"]["by_season"]])


def score_metrics_report(candidates: dict) -> None:
    section("2b. Final score (nfl_score), leave-one-season-out")
    metrics = candidates["nfl_score"].metrics
    rows = [
        [season, *(m[k] for k in SCORE_COLUMNS)]
        for season, m in [*metrics["by_season"].items(), ("all", metrics["overall"])]
    ]
    headers = ["season", "plays", "MAE/team", "MAE margin", "kickoff games", "kickoff MAE margin"]
    table(rows, [*headers, "spread's MAE", "kickoff MAE total"], ".3f")
    o = metrics["overall"]
    print(f"target per-team MAE <= 6: {o['mae_per_team']:.3f}, {met(o['mae_per_team'] <= 6)}")
    kickoff, spread = o["kickoff_mae_margin"], o["kickoff_mae_margin_spread"]
    print(f"target kickoff margin MAE <= spread's: {kickoff:.3f} vs {spread:.3f}, {met(kickoff <= spread)}")


def nflfastr_comparison(frame: pd.DataFrame, files: list) -> None:
    section("3. playcast vs nflfastR on nflverse_full_partial plays (playcast trained without that season)")
    training = features.wp_training_rows(frame)
    pbps, predictions = [], []
    for path in files:
        pbp = read_plays(path)
        (season,) = pbp["season"].unique()
        seasons = sorted(int(s) for s in training["season"].unique() if s != season)
        model = WpModel.fit(training[training["season"] != season])
        predicted = pd.DataFrame(model.predict(features.from_nflverse(pbp, str(path))))
        result = compare_with_nflfastr(pbp, predicted)
        plays = int(result["plays"].iloc[0])
        print(f"\n{path.name}: season {season}, {plays} plays; playcast trained on {seasons}")
        table(result, "keys", (".4f",) * 6 + (".0f",))
        pbps.append(pbp)
        predictions.append(predicted)
    pooled = compare_with_nflfastr(*(pd.concat(parts, ignore_index=True) for parts in (pbps, predictions)))
    print(f"\npooled ({len(files)} files): {int(pooled['plays'].iloc[0])} plays")
    table(pooled, "keys", (".4f",) * 6 + (".0f",))
    brier = pooled["brier"]
    for ours, theirs in (("playcast wp", "nflfastR wp"), ("playcast wp (spread)", "nflfastR vegas_wp")):
        print(f"target Brier below nflfastR's: {ours} {brier[ours]:.4f} vs {theirs} {brier[theirs]:.4f}, "
              f"{met(brier[ours] < brier[theirs])}")  # fmt: skip


def inference(candidates: dict, frame: pd.DataFrame, files: list) -> None:
    section("4. Inference with the final models")
    predictor = NflPredictor(
        wp=candidates["nfl_wp"].model,
        score=candidates["nfl_score"].model,
        model_version="bench",
        training_seasons=candidates["nfl_wp"].training_seasons,
    )
    plays = pd.concat([features.from_nflverse(read_plays(p), str(p)) for p in files], ignore_index=True)
    states = [
        {k: (None if pd.isna(v) else float(v)) for k, v in state.items()}
        for state in plays.loc[:, list(features.ALL_FEATURES)].to_dict("records")
    ]
    for state in states[:500]:  # warm-up
        predictor.predict_play(state)
    latencies = np.empty(len(states))
    for i, state in enumerate(states):
        started = time.perf_counter_ns()
        predictor.predict_play(state)
        latencies[i] = time.perf_counter_ns() - started
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) / 1e3
    print(f"predict_play, {len(states)} real states (nflverse_full_partial), one at a time:")
    print(f"  p50 {p50:.0f} µs, p95 {p95:.0f} µs, p99 {p99:.0f} µs, max {latencies.max() / 1e3:.0f} µs")
    print(f"  target p99 <= 1 ms: {met(p99 <= 1000)}")
    played = pd.DataFrame([predictor.predict_play(state) for state in states])
    worst = (played - predictor.predict_frame(plays)[played.columns]).abs().max().max()
    print(f"  vs predict_frame on every state: max |diff| {worst:.1e}, target <= 1e-6: {met(worst <= 1e-6)}")

    batch = pd.concat([frame] * -(-250_000 // len(frame)), ignore_index=True)
    x = features.matrix(batch, features.WP_SPREAD_FEATURES)
    booster = predictor.wp.wp_spread
    rates = {
        "playcast predict_frame (3 boosters, from a frame)": lambda: predictor.predict_frame(batch),
        "raw xgboost inplace_predict, spread booster, float32 matrix": lambda: booster.inplace_predict(x),
    }
    print(f"batch scoring, {len(batch)} mart plays, best of 3:")
    measured = {}
    for label, fn in rates.items():
        seconds = min(timed(fn) for _ in range(3))
        measured[label] = len(batch) / seconds
        print(f"  {label:<60} {seconds:6.3f} s  {measured[label]:>12,.0f} plays/s")
    ours, raw = measured.values()
    print(f"  raw / playcast: {raw / ours:.2f}x; target >= 100,000 plays/s: {met(ours >= 100_000)}")


def main() -> None:
    mirror = mirror_root()
    if mirror is None:
        raise SystemExit("set PLAYCAST_DATA_MIRROR to the data folder")
    files = [mirror / "nfl" / "nflverse_full_partial" / name for name in FULL_FILES]
    machine()
    with connect(read_only=True) as con:
        started = time.perf_counter()
        frame = features.mart_frame(con)
    seasons = sorted(int(s) for s in frame["season"].unique())
    print(f"warehouse: {warehouse_path()}, {len(frame)} mart plays of seasons {seasons}, ", end="")
    print(f"read in {time.perf_counter() - started:.1f} s")
    candidates = train_all(frame)
    wp_metrics_report(candidates)
    score_metrics_report(candidates)
    nflfastr_comparison(frame, files)
    inference(candidates, frame, files)


if __name__ == "__main__":
    main()
