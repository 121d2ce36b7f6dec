"""What a loader returns: a season's rows and where they came from."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Loaded:
    """A season's rows and where they came from (a file path or a network description)."""

    rows: pa.Table
    source: str
