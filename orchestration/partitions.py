"""Season partitions: one per season each source publishes play-by-play for, up to the current one."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from ingest.nba import current_nba_season, season_key

FIRST_NFL_SEASON = 1999  # nflverse play-by-play starts here
FIRST_NBA_SEASON = 1996  # stats.nba.com play-by-play starts with 1996-97


def current_nfl_season(today: dt.date | None = None) -> int:
    """The season being played (or last played): an NFL season starts in September."""
    today = today or dt.date.today()
    return today.year if today.month >= 9 else today.year - 1


nfl_seasons = dg.StaticPartitionsDefinition(
    [str(season) for season in range(FIRST_NFL_SEASON, current_nfl_season() + 1)]
)
nba_seasons = dg.StaticPartitionsDefinition(
    [season_key(start) for start in range(FIRST_NBA_SEASON, current_nba_season() + 1)]
)
