"""nflverse play-by-play and schedules, from nflreadpy or from the mirror's nflverse-format files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import SourceError, require_columns
from ingest.loaded import Loaded
from ingest.mirror import first_existing, read_parquet

# What playcast reads from nflverse play-by-play; every other column the source has is kept as well.
PBP_REQUIRED = (
    "game_id", "play_id", "season", "week", "season_type", "home_team", "away_team", "posteam", "defteam",
    "game_seconds_remaining", "down", "ydstogo", "yardline_100", "play_type",
    "posteam_score", "defteam_score", "posteam_score_post", "defteam_score_post",
)  # fmt: skip
GAMES_REQUIRED = (
    "game_id", "season", "game_type", "week", "gameday", "home_team", "away_team", "home_score", "away_score",
    "result", "spread_line", "total_line", "roof", "home_rest", "away_rest",
)  # fmt: skip


def pbp_candidates(mirror: Path, season: int) -> list[Path]:
    """Mirror files that can hold a season of pbp: the full nflverse release file, else the column subset."""
    nfl = mirror / "nfl"
    return [nfl / f"play_by_play_{season}.parquet", nfl / "nflverse_pbp_subset" / f"pbp_{season}.parquet"]


def _only_season(rows: pa.Table, season: int, source: str) -> pa.Table:
    seasons = set(pc.unique(rows["season"]).to_pylist())
    if seasons - {season}:
        raise SourceError(
            f"{source}: column season holds {sorted(seasons - {season}, key=str)}, expected only {season}"
        )
    return rows


def load_pbp(season: int, mirror: Path | None) -> Loaded:
    """One season of nflverse play-by-play with every column the source has (network when no mirror)."""
    if mirror is None:
        import nflreadpy  # network loader; imported here to keep the code location light

        rows, source = nflreadpy.load_pbp(seasons=[season]).to_arrow(), f"nflverse via nflreadpy {season}"
    else:
        path = first_existing(pbp_candidates(mirror, season), f"NFL play-by-play for season {season}")
        rows, source = read_parquet(path), str(path)
    require_columns(rows.column_names, PBP_REQUIRED, source)
    return Loaded(_only_season(rows, season, source), source)


def load_games(season: int, mirror: Path | None) -> Loaded:
    """One season of the nflverse schedule: teams, kickoff, lines, rest, roof, results."""
    if mirror is None:
        import nflreadpy

        rows, source = nflreadpy.load_schedules(seasons=[season]).to_arrow(), f"nflverse schedules {season}"
    else:
        path = first_existing([mirror / "nfl" / "games.csv"], "The NFL schedule (games.csv)")
        source = str(path)
        try:
            rows = duckdb.read_csv(str(path)).filter(f"season = {int(season)}").to_arrow_table()
        except duckdb.Error as error:
            raise SourceError(f"{path}: cannot read as CSV ({error})") from error
    require_columns(rows.column_names, GAMES_REQUIRED, source)
    if rows.num_rows == 0:
        raise SourceError(f"{source}: has no games of season {season}")
    return Loaded(rows, source)


def mirror_seasons(mirror: Path) -> list[int]:
    """Seasons whose play-by-play the mirror holds, in either file layout."""
    nfl = mirror / "nfl"
    names = [p.stem for p in nfl.glob("play_by_play_*.parquet")] + [
        p.stem for p in (nfl / "nflverse_pbp_subset").glob("pbp_*.parquet")
    ]
    return sorted({int(n.rsplit("_", 1)[1]) for n in names if n.rsplit("_", 1)[1].isdigit()})
