"""Versioned model artifacts in the model store and the `ml.model_registry` table (champion/challenger).

A model version is immutable: a folder `<store>/<model_name>/v<version>/` with the model in xgboost's own
format (or JSON) and `card.json`, plus one registry row. A new version becomes champion only when its held-out
selection metric (lower is better) is not worse than the champion's on the seasons both were evaluated on.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from models.train import Model, load_model

REPO_ROOT = Path(__file__).resolve().parent.parent
DDL = """
create schema if not exists ml;
create table if not exists ml.model_registry (
    model_name       varchar     not null,
    version          integer     not null,
    kind             varchar     not null,
    trained_at       timestamptz not null,
    training_seasons integer[]   not null,
    metrics          json        not null,
    artifact_path    varchar     not null,
    is_champion      boolean     not null,
    data_fingerprint varchar     not null,
    code_version     varchar     not null,
    decision         json        not null,
    primary key (model_name, version)
)
"""


def model_store() -> Path:
    """`PLAYCAST_MODEL_STORE`, default `warehouse/model_store/` in the repo (git-ignored)."""
    return Path(os.environ.get("PLAYCAST_MODEL_STORE") or REPO_ROOT / "warehouse" / "model_store").resolve()


def code_version() -> str:
    """The git commit the code was trained from (`+dirty` with uncommitted changes), else 'unknown'."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn
    import xgboost

    return {
        "python": platform.python_version(),
        "xgboost": xgboost.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
    }


@dataclass
class Candidate:
    """A trained model waiting to be registered, with its held-out evaluation."""

    model_name: str
    model: Model
    training_seasons: list[int]
    training_rows: int
    data_fingerprint: str
    metrics: dict  # must hold "selection": {"metric": name, "by_season": {season: value}}

    def save(self, folder: Path) -> None:
        """Write the candidate to `folder`: the model in its own format and `candidate.json` (no pickles), so
        that another process can register it."""
        self.model.save(folder)
        fields = {
            "model_name": self.model_name,
            "kind": self.model.kind,
            "training_seasons": self.training_seasons,
            "training_rows": self.training_rows,
            "data_fingerprint": self.data_fingerprint,
            "metrics": self.metrics,
        }
        (folder / "candidate.json").write_text(json.dumps(fields))

    @classmethod
    def load(cls, folder: Path) -> Candidate:
        fields = json.loads((folder / "candidate.json").read_text())
        model = load_model(fields.pop("kind"), folder)
        return cls(model=model, **fields)


@dataclass(frozen=True)
class Entry:
    """One registry row."""

    model_name: str
    version: int
    kind: str
    training_seasons: list[int]
    metrics: dict
    artifact_path: str
    is_champion: bool
    decision: dict

    @property
    def label(self) -> str:
        return f"{self.model_name}@{self.version}"

    def load(self) -> Model:
        return load_model(self.kind, Path(self.artifact_path))


_COLUMNS = "model_name, version, kind, training_seasons, metrics, artifact_path, is_champion, decision"


def _entry(row: tuple) -> Entry:
    name, version, kind, seasons, metrics, path, champion, decision = row
    return Entry(
        name, version, kind, list(seasons), json.loads(metrics), path, champion, json.loads(decision)
    )


def champion(con: duckdb.DuckDBPyConnection, model_name: str) -> Entry | None:
    """The current champion of `model_name`, or None (no registry or no version yet)."""
    exists = "select count(*) from information_schema.tables where table_schema = 'ml' and table_name = ?"
    if not con.execute(exists, ["model_registry"]).fetchone()[0]:
        return None
    row = con.execute(
        f"select {_COLUMNS} from ml.model_registry where model_name = ? and is_champion", [model_name]
    ).fetchone()
    return _entry(row) if row else None


def versions(con: duckdb.DuckDBPyConnection, model_name: str) -> list[Entry]:
    rows = con.execute(
        f"select {_COLUMNS} from ml.model_registry where model_name = ? order by version", [model_name]
    ).fetchall()
    return [_entry(r) for r in rows]


def compare(challenger: dict, incumbent: Entry | None) -> dict:
    """Champion/challenger on the seasons both were evaluated on (selection metric: lower is better)."""
    mine = challenger["selection"]
    if incumbent is None:
        return {"promoted": True, "reason": "no champion yet", "metric": mine["metric"]}
    theirs = incumbent.metrics["selection"]
    common = sorted(set(mine["by_season"]) & set(theirs["by_season"]))
    if not common or theirs["metric"] != mine["metric"]:
        return {
            "promoted": True,
            "reason": "no common evaluation with the champion",
            "metric": mine["metric"],
            "champion_version": incumbent.version,
        }
    new = sum(mine["by_season"][s] for s in common) / len(common)
    old = sum(theirs["by_season"][s] for s in common) / len(common)
    promoted = new <= old
    return {
        "promoted": promoted,
        "reason": f"held-out {mine['metric']} {new:.5f} {'<=' if promoted else '>'} champion's {old:.5f}",
        "metric": mine["metric"],
        "challenger": new,
        "champion": old,
        "champion_version": incumbent.version,
        "seasons": common,
    }


def register(con: duckdb.DuckDBPyConnection, candidate: Candidate, store: Path | None = None) -> Entry:
    """Save the candidate as the next version and record it with the champion decision, atomically."""
    store = store or model_store()
    con.execute(DDL)
    con.execute("begin transaction")
    try:
        version = con.execute(
            "select coalesce(max(version), 0) + 1 from ml.model_registry where model_name = ?",
            [candidate.model_name],
        ).fetchone()[0]
        decision = compare(candidate.metrics, champion(con, candidate.model_name))
        folder = store / candidate.model_name / f"v{version:04d}"
        _write_artifact(folder, candidate, version)
        if decision["promoted"]:
            con.execute(
                "update ml.model_registry set is_champion = false where model_name = ?",
                [candidate.model_name],
            )
        con.execute(
            "insert into ml.model_registry values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                candidate.model_name,
                version,
                candidate.model.kind,
                datetime.now(UTC),
                candidate.training_seasons,
                json.dumps(candidate.metrics),
                str(folder),
                decision["promoted"],
                candidate.data_fingerprint,
                code_version(),
                json.dumps(decision),
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return _entry(
        (
            candidate.model_name,
            version,
            candidate.model.kind,
            candidate.training_seasons,
            json.dumps(candidate.metrics),
            str(folder),
            decision["promoted"],
            json.dumps(decision),
        )
    )


def _write_artifact(folder: Path, candidate: Candidate, version: int) -> None:
    """Write model + card to a temporary folder, then move it into place (no half-written versions)."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    candidate.model.save(staging)
    card = {
        "model_name": candidate.model_name,
        "version": version,
        "kind": candidate.model.kind,
        "trained_at": datetime.now(UTC).isoformat(),
        "training_seasons": candidate.training_seasons,
        "training_rows": candidate.training_rows,
        "data_fingerprint": candidate.data_fingerprint,
        "model": candidate.model.describe(),
        "metrics": candidate.metrics,
        "library_versions": library_versions(),
        "code_version": code_version(),
    }
    (staging / "card.json").write_text(json.dumps(card, indent=1, default=str))
    if folder.exists():
        raise FileExistsError(
            f"model version folder {folder} already exists; the model store and registry disagree"
        )
    staging.rename(folder)


def regression(metrics: dict, incumbent: Entry | None, tolerances: dict[str, float]) -> dict:
    """Whether a challenger regresses against the champion beyond `tolerances` (metric → allowed increase).

    Compared on the held-out seasons both were evaluated on; metrics missing from either side are skipped.
    """
    if incumbent is None:
        return {"passed": True, "reason": "no champion to compare with"}
    mine, theirs = metrics["selection"], incumbent.metrics["selection"]
    keys = {
        "log_loss": "by_season",
        "mae_per_team": "by_season",
        "calibration_error": "calibration_error_by_season",
    }
    results = {}
    for metric, allowed in tolerances.items():
        key = keys[metric]
        if metric in ("log_loss", "mae_per_team") and mine["metric"] != metric:
            continue
        common = sorted(set(mine.get(key, {})) & set(theirs.get(key, {})))
        if not common:
            continue
        new = sum(mine[key][s] for s in common) / len(common)
        old = sum(theirs[key][s] for s in common) / len(common)
        results[metric] = {
            "challenger": new,
            "champion": old,
            "allowed_increase": allowed,
            "ok": new <= old + allowed,
        }
    return {
        "passed": all(r["ok"] for r in results.values()),
        "champion_version": incumbent.version,
        "metrics": results,
    }
