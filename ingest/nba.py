"""NBA seasons ('2024-25'): PlayByPlayV3 actions and LeagueGameLog team rows, from the mirror's season files
(`nba/playbyplayv3_2024_25.parquet`, `nba/leaguegamelog_2024_25.csv.gz`) or from stats.nba.com.

Both sources give the same columns and types (ingest/nba_stats.py `PBP_SCHEMA`, `GAMES_SCHEMA`) + `season`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ingest.errors import SourceError, require_columns
from ingest.loaded import Loaded
from ingest.mirror import first_existing, read_parquet
from ingest.nba_stats import (
    GAMES_SCHEMA,
    PBP_SCHEMA,
    ResponseCache,
    StatsClient,
    backfill_pbp,
    parse_game_log,
    parse_pbp,
)

log = logging.getLogger(__name__)
_SEASON_KEY = re.compile(r"^(\d{4})-(\d{2})$")


def season_key(start_year: int) -> str:
    """2024 → '2024-25' (1999 → '1999-00')."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def season_start(season: str) -> int:
    """'2024-25' → 2024; anything else is an error naming the value."""
    match = _SEASON_KEY.match(season)
    if not match or season_key(int(match[1])) != season:
        raise ValueError(f"NBA season {season!r}: expected a key like '2024-25'")
    return int(match[1])


def current_nba_season(today: dt.date | None = None) -> int:
    """Start year of the season being played (or last played): an NBA season starts in October."""
    today = today or dt.date.today()
    return today.year if today.month >= 10 else today.year - 1


def _tag(season: str) -> str:
    return season.replace("-", "_")


def pbp_candidates(mirror: Path, season: str) -> list[Path]:
    return [mirror / "nba" / f"playbyplayv3_{_tag(season)}.parquet"]


def games_candidates(mirror: Path, season: str) -> list[Path]:
    return [
        mirror / "nba" / f"leaguegamelog_{_tag(season)}.csv.gz",
        mirror / "nba" / f"leaguegamelog_{_tag(season)}.csv",
    ]


def mirror_seasons(mirror: Path) -> list[str]:
    """Seasons whose play-by-play the mirror holds."""
    keys = (
        p.stem.removeprefix("playbyplayv3_").replace("_", "-")
        for p in (mirror / "nba").glob("playbyplayv3_*.parquet")
    )
    return sorted(k for k in keys if _SEASON_KEY.match(k))


def _conform(rows: pa.Table, schema: pa.Schema, source: str) -> pa.Table:
    """`schema`'s columns of `rows`, cast to its types; names the missing or mistyped column."""
    require_columns(rows.column_names, tuple(schema.names), source)
    columns = []
    for field in schema:
        try:
            columns.append(rows[field.name].cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise SourceError(
                f"{source}: column {field.name} ({rows[field.name].type}) is not {field.type} ({error})"
            ) from error
    return pa.Table.from_arrays(columns, schema=schema)


def _for_season(rows: pa.Table, game_column: str, season: str, source: str) -> pa.Table:
    """Check every game id belongs to `season` (digits 4-5: '0022400061' is 2024-25), add `season`."""
    expected = f"{season_start(season) % 100:02d}"
    years = pc.unique(pc.utf8_slice_codeunits(rows[game_column], 3, 5)).to_pylist()
    wrong = sorted(str(y) for y in years if y != expected)
    if wrong:
        found = [season_key(int(y) + (1900 if int(y) >= 46 else 2000)) if y.isdigit() else y for y in wrong]
        raise SourceError(
            f"{source}: {game_column} holds games of season(s) {', '.join(found)}, expected {season}"
        )
    return rows.append_column("season", pa.array([season] * rows.num_rows, pa.string()))


def load_games(season: str, mirror: Path | None, client: StatsClient | None = None) -> Loaded:
    """One season's LeagueGameLog team rows (two per game): the mirror's csv, else stats.nba.com."""
    if mirror is None:
        with client or StatsClient() as stats:
            source = f"{stats.base_url}/leaguegamelog Season={season}"
            rows = parse_game_log(stats.game_log(season), source)
    else:
        path = first_existing(games_candidates(mirror, season), f"NBA game log for season {season}")
        source = str(path)
        try:
            rows = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(column_types=GAMES_SCHEMA))
        except (pa.ArrowInvalid, OSError) as error:
            raise SourceError(f"{path}: not a readable game log CSV ({error})") from error
    rows = _conform(rows, GAMES_SCHEMA, source)
    if rows.num_rows == 0:
        raise SourceError(f"{source}: has no games of season {season}")
    return Loaded(_for_season(rows, "GAME_ID", season, source), source)


def load_pbp(
    season: str,
    mirror: Path | None,
    game_ids: Sequence[str] = (),
    client: StatsClient | None = None,
    cache: ResponseCache | None = None,
    progress: Callable[[str], None] = log.info,
) -> Loaded:
    """One season's PlayByPlayV3 actions: the mirror's parquet, else stats.nba.com game by game
    (`game_ids` from the game log) through the resumable response cache."""
    if mirror is None:
        cache = cache or ResponseCache()
        with client or StatsClient() as stats:
            source = f"{stats.base_url}/playbyplayv3 cached in {cache.path(season, '*')}"
            files = list(backfill_pbp(stats, cache, season, list(game_ids), progress))
        games = [parse_pbp(path.read_text(encoding="utf-8"), str(path)) for _, path in files]
        rows = pa.concat_tables(games) if games else PBP_SCHEMA.empty_table()
    else:
        path = first_existing(pbp_candidates(mirror, season), f"NBA play-by-play for season {season}")
        source = str(path)
        rows = _conform(read_parquet(path), PBP_SCHEMA, source)
    if rows.num_rows == 0:
        raise SourceError(f"{source}: has no actions of season {season}")
    return Loaded(_for_season(rows, "gameId", season, source), source)
