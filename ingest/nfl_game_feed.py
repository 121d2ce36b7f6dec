"""NFL.com game-detail JSON ("game feed"): one row per play, the format live events use too.

A file is the `weekly-game-details` answer for one game: `homeTeam`, `awayTeam`,
`driveChart{drives, plays, scoringSummaries}`. Plays keep their NFL.com fields under snake_case names; the
drive's team (who has the ball) and team abbreviations are joined on from the same file.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from ingest.errors import SourceError
from ingest.loaded import Loaded
from ingest.mirror import first_existing

log = logging.getLogger(__name__)

# NFL.com play field -> raw.nfl_game_feed column
PLAY_FIELDS = {
    "playId": "play_id",
    "playSequenceNumber": "play_sequence",
    "quarter": "quarter",
    "clockTime": "clock",
    "playType": "play_type",
    "playDescription": "description",
    "prePlayByPlay": "pre_play",
    "down": "down",
    "yardsRemaining": "yards_to_go",
    "yardLine": "yard_line",
    "yardsGained": "yards_gained",
    "playIsGoalToGo": "is_goal_to_go",
    "playIsEndOfQuarter": "is_end_of_quarter",
    "playDeleted": "play_deleted",
    "playScored": "play_scored",
    "scoringPlayType": "scoring_play_type",
    "scoringTeamId": "scoring_team_id",
    "driveSequence": "drive_sequence",
    "specialTeamsPlayType": "special_teams_play_type",
    "nextPlayType": "next_play_type",
    "playStartTime": "play_start_time",
    "playEndTime": "play_end_time",
}
SCHEMA = pa.schema(
    [
        ("season", pa.int32()),
        ("week", pa.int32()),
        ("season_type", pa.string()),
        ("game_id", pa.string()),
        ("home_team", pa.string()),
        ("away_team", pa.string()),
        ("home_team_id", pa.string()),
        ("away_team_id", pa.string()),
        ("play_id", pa.int64()),
        ("play_sequence", pa.float64()),
        ("quarter", pa.int32()),
        ("clock", pa.string()),
        ("play_type", pa.string()),
        ("description", pa.string()),
        ("pre_play", pa.string()),
        ("down", pa.int32()),
        ("yards_to_go", pa.int32()),
        ("yard_line", pa.string()),
        ("yards_gained", pa.int32()),
        ("is_goal_to_go", pa.bool_()),
        ("is_end_of_quarter", pa.bool_()),
        ("play_deleted", pa.bool_()),
        ("play_scored", pa.bool_()),
        ("scoring_play_type", pa.string()),
        ("scoring_team_id", pa.string()),
        ("scoring_team", pa.string()),
        ("drive_sequence", pa.int32()),
        ("drive_team_id", pa.string()),
        ("drive_team", pa.string()),
        ("special_teams_play_type", pa.string()),
        ("next_play_type", pa.string()),
        ("play_start_time", pa.string()),
        ("play_end_time", pa.string()),
        ("stats", pa.string()),
        ("source_file", pa.string()),
    ]
)


def _get(obj: dict, key: str, where: str):
    try:
        return obj[key]
    except (KeyError, TypeError):
        raise SourceError(f"{where}: missing field '{key}'") from None


def parse_game(document: dict, game_id: str, source: str) -> list[dict]:
    """Rows for every play of one game document (deleted plays included, flagged)."""
    season, week = (int(part) for part in game_id.split("_")[:2])
    _, _, away, home = game_id.split("_")
    home_id = _get(_get(document, "homeTeam", source), "id", f"{source} homeTeam")
    away_id = _get(_get(document, "awayTeam", source), "id", f"{source} awayTeam")
    abbreviation = {home_id: home, away_id: away}
    chart = _get(document, "driveChart", source)
    drive_team = {
        _get(d, "sequence", f"{source} drive"): _get(d, "teamId", f"{source} drive")
        for d in chart.get("drives") or []
    }
    rows = []
    for index, play in enumerate(_get(chart, "plays", f"{source} driveChart")):
        where = f"{source} driveChart.plays[{index}]"
        if not isinstance(play, dict):
            raise SourceError(f"{where}: expected an object, got {type(play).__name__}")
        row = {column: play.get(field) for field, column in PLAY_FIELDS.items()}
        if row["play_id"] is None:
            raise SourceError(f"{where}: missing field 'playId'")
        drive_id = drive_team.get(row["drive_sequence"]) if row["drive_sequence"] else None
        row.update(
            season=season,
            week=week,
            season_type=document.get("seasonType"),
            game_id=game_id,
            home_team=home,
            away_team=away,
            home_team_id=home_id,
            away_team_id=away_id,
            scoring_team=abbreviation.get(row["scoring_team_id"]),
            drive_team_id=drive_id,
            drive_team=abbreviation.get(drive_id),
            stats=json.dumps(play.get("stats") or [], separators=(",", ":")),
            source_file=source,
        )
        rows.append(row)
    return rows


def read_game_file(path: Path) -> dict:
    """Decode one (optionally gzipped) game JSON file, naming the file when it is broken."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            return json.load(handle)
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SourceError(f"{path}: not a readable game JSON file ({error})") from error


def _game_id(path: Path) -> str:
    return path.name.split(".")[0]


def _documents_from_mirror(folder: Path) -> Iterator[tuple[str, str, dict]]:
    files = sorted(folder.glob("*.json.gz")) + sorted(folder.glob("*.json"))
    if not files:
        raise SourceError(f"NFL game feed: no *.json.gz or *.json files in {folder}")
    for path in files:
        yield _game_id(path), str(path), read_game_file(path)


RAW_FEED_URL = (
    "https://raw.githubusercontent.com/sportsdataverse/nfl-raw/main/nfl/raw/{season}/{game_id}.json"
)


def _documents_from_network(game_ids: list[str], season: int) -> Iterator[tuple[str, str, dict]]:
    import requests

    with requests.Session() as session:
        for game_id in game_ids:
            url = RAW_FEED_URL.format(season=season, game_id=game_id)
            response = session.get(url, timeout=30)
            if response.status_code == 404:
                log.warning("no game feed published for %s (%s)", game_id, url)
                continue
            response.raise_for_status()
            try:
                yield game_id, url, response.json()
            except ValueError as error:
                raise SourceError(f"{url}: not valid game JSON ({error})") from error
            time.sleep(0.2)


def load_game_feed(
    season: int, mirror: Path | None, game_ids: list[str], progress: Callable[[str], None] = log.info
) -> Loaded:
    """Every play of a season's games. `game_ids` (from the schedule) is only needed for the network."""
    if mirror is None:
        documents, source = (
            _documents_from_network(game_ids, season),
            RAW_FEED_URL.format(season=season, game_id="*"),
        )
    else:
        folder = first_existing(
            [mirror / "nfl" / "shield_raw" / str(season)], f"NFL game feed for season {season}"
        )
        documents, source = _documents_from_mirror(folder), str(folder)
    rows: list[dict] = []
    started = time.monotonic()
    for count, (game_id, where, document) in enumerate(documents, start=1):
        rows.extend(parse_game(document, game_id, where))
        if count % 50 == 0:
            progress(
                f"game feed {season}: {count} games, {len(rows)} plays, {time.monotonic() - started:.1f} s"
            )
    return Loaded(pa.Table.from_pylist(rows, schema=SCHEMA), source)
