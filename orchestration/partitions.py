"""Season partitions: one per season that nflverse publishes play-by-play for, up to the current one."""

from __future__ import annotations

import datetime as dt

import dagster as dg

FIRST_NFL_SEASON = 1999  # nflverse play-by-play starts here


def current_nfl_season(today: dt.date | None = None) -> int:
    """The season being played (or last played): an NFL season starts in September."""
    today = today or dt.date.today()
    return today.year if today.month >= 9 else today.year - 1


nfl_seasons = dg.StaticPartitionsDefinition(
    [str(season) for season in range(FIRST_NFL_SEASON, current_nfl_season() + 1)]
)
