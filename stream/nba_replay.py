"""Replay real NBA games onto Kafka, action by action, as a live feed would send them.

Source: the data mirror's season files `$PLAYCAST_DATA_MIRROR/nba/playbyplayv3_<YYYY>_<YY>.parquet` (the
game id tells the season: '0022300001' is 2023-24), read with DuckDB, so an event's `action` is exactly the
row `raw.nba_pbp` holds for it. Each game's actions go out in actionId order, keyed by gameId.

Pacing: PlayByPlayV3 has no wall-clock time, so actions are paced by elapsed *game clock* (periods of 12
minutes, overtimes of 5): speed=N sends at N x game-clock time, so timeouts, free throws, reviews and
halftime take no time, and gaps are capped at MAX_GAP_S like the NFL's. Several games tip off together and
interleave by game clock. speed="max" sends as fast as possible.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from stream import NBA_TOPIC
from stream.nba_events import ACTION_COLUMNS, NBA_ACTION, clock_seconds
from stream.replay import ReplayError, ReplayStats, games_to_replay, mirror_folder, publish

log = logging.getLogger(__name__)

GAME_ID = re.compile(r"00[1-6](\d{2})\d{5}")  # 002 = regular season, 23 = the season starting in 2023
SEASON = re.compile(r"(\d{4})-(\d{2})")
PERIOD_SECONDS, OVERTIME_SECONDS = 720, 300


def season_of(game_id: str) -> str:
    """'0022300001' -> '2023-24'."""
    match = GAME_ID.fullmatch(game_id)
    if match is None:
        raise ReplayError(f"{game_id!r} is not an NBA game id like 0022300001")
    start = 2000 + int(match[1]) if int(match[1]) < 90 else 1900 + int(match[1])
    return f"{start}-{(start + 1) % 100:02d}"


def season_file(season: str, mirror: Path | None = None) -> Path:
    match = SEASON.fullmatch(season)
    if match is None:
        raise ReplayError(f"season {season!r}: expected an NBA season like 2023-24")
    path = mirror_folder(mirror) / "nba" / f"playbyplayv3_{match[1]}_{match[2]}.parquet"
    if not path.exists():
        raise ReplayError(f"season {season}: no play-by-play file {path}")
    return path


def season_game_ids(season: str, mirror: Path | None = None) -> list[str]:
    path = season_file(season, mirror)
    rows = duckdb.sql(f"select distinct gameId from read_parquet('{path}') order by 1").fetchall()
    return [row[0] for row in rows]


def load_games(game_ids: Iterable[str], mirror: Path | None = None) -> dict[str, list[dict]]:
    """Each game's actions as raw.nba_pbp rows (the PlayByPlayV3 columns), in actionId order."""
    ids = list(dict.fromkeys(game_ids))
    by_season: dict[str, list[str]] = {}
    for game_id in ids:
        by_season.setdefault(season_of(game_id), []).append(game_id)
    columns = ", ".join(f'"{c}"' for c in ACTION_COLUMNS)
    games: dict[str, list[dict]] = {game_id: [] for game_id in ids}
    for season, wanted in by_season.items():
        path = season_file(season, mirror)
        listed = ", ".join(f"'{g}'" for g in wanted)  # checked against GAME_ID: digits only
        rows = duckdb.sql(
            f"select {columns} from read_parquet('{path}') where gameId in ({listed}) "
            "order by gameId, actionId"
        ).to_arrow_table()
        for row in rows.to_pylist():
            games[row["gameId"]].append(row)
        missing = [g for g in wanted if not games[g]]
        if missing:
            raise ReplayError(f"game {', '.join(missing)}: no actions in {path}")
    return games


def elapsed_seconds(period: int, clock: str) -> float:
    """Game-clock seconds since tip-off at an action (periods of 12 minutes, overtimes of 5)."""
    before = PERIOD_SECONDS * min(period - 1, 4) + OVERTIME_SECONDS * max(period - 5, 0)
    length = PERIOD_SECONDS if period <= 4 else OVERTIME_SECONDS
    return before + length - clock_seconds(clock)


def timeline(rows: list[dict]) -> list[tuple[float, dict, None]]:
    """(pacing time = elapsed game clock, row, None) for one game's actions, times non-decreasing."""
    current, out = 0.0, []
    for row in rows:
        current = max(current, elapsed_seconds(row["period"], row["clock"]))
        out.append((current, row, None))
    return out


def replay_nba(
    bootstrap: str,
    game_ids: Iterable[str] = (),
    *,
    season: str | None = None,
    speed: str | float | None = "max",
    topic: str = NBA_TOPIC,
    mirror: Path | None = None,
    progress_every: int = 5000,
    progress: Callable[[str], None] = log.info,
) -> ReplayStats:
    """Publish the games' actions (and every game of `season`, e.g. '2023-24') to `topic`; returns counts."""
    ids = games_to_replay(game_ids, season_game_ids(season, mirror) if season is not None else [])
    started = time.monotonic()
    timelines = [timeline(rows) for rows in load_games(ids, mirror).values()]
    load_seconds = time.monotonic() - started
    sent, seconds = publish(
        bootstrap, timelines, topic, lambda row, _: NBA_ACTION.encode(row), "gameId",
        speed=speed, progress_every=progress_every, progress=progress,
    )  # fmt: skip
    return ReplayStats(sent, len(ids), seconds, load_seconds, topic)
