"""The local data mirror (PLAYCAST_DATA_MIRROR): a folder laid out like `shared/data`."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.errors import SourceError


def mirror_root() -> Path | None:
    """The mirror folder, or None when loaders should use the network."""
    value = os.environ.get("PLAYCAST_DATA_MIRROR")
    return Path(value).expanduser().resolve() if value else None


def first_existing(candidates: list[Path], what: str) -> Path:
    """The first candidate file that exists, else an error listing every path that was looked for."""
    for path in candidates:
        if path.exists():
            return path
    looked = "\n  ".join(str(p) for p in candidates)
    raise SourceError(f"{what} is not in the mirror; looked for:\n  {looked}")


def read_parquet(path: Path) -> pa.Table:
    """Read a parquet file, naming the file when it is truncated or not parquet at all."""
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceError(f"{path}: not a readable parquet file ({error})") from error
