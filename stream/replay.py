"""Replay real games onto Kafka, row by row, as a live feed would send them; the NFL's games here.

`publish` paces and sends any sport's rows (stream/nba_replay.py replays NBA games with it).

Source: the NFL.com game-feed JSON of the data mirror,
`$PLAYCAST_DATA_MIRROR/nfl/shield_raw/<season>/<game_id>.json.gz` (season = the first part of the game id),
parsed by `ingest.nfl_game_feed.parse_game`, so an event's `play` is exactly the row `raw.nfl_game_feed` holds
for it. Deleted plays are skipped (a feed retracts them).

Each game's plays go out in `play_sequence` order, keyed by game_id (one partition per game, in order).
Several games are interleaved by event time like a real Sunday. Pacing:
    speed="max"  as fast as possible (batched; flushed at the end)
    speed=N      N x real time: the wait before a play is the gap between the play_start_time of consecutive
                 plays (play_end_time when the start is missing), at most MAX_GAP_S, divided by N.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kafka import KafkaProducer

from ingest.errors import SourceError
from ingest.mirror import mirror_root
from ingest.nfl_game_feed import parse_game, read_game_file
from stream import NFL_TOPIC, events

log = logging.getLogger(__name__)

MAX_GAP_S = 30.0  # longest real-time wait between two plays (halftime, reviews, TV breaks) before speed-up
POINTS = {"TOUCHDOWN": 6, "FIELD_GOAL": 3, "PAT": 1, "PAT2": 2, "SAFETY": 2}


class ReplayError(RuntimeError):
    """A game cannot be replayed (not in the mirror, unreadable) or the broker refused events."""


@dataclass(frozen=True)
class ReplayStats:
    events: int
    games: int
    seconds: float  # publishing time (first send to last acknowledgement)
    load_seconds: float  # reading and parsing the game files
    topic: str

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        return (
            f"{self.events} events from {self.games} game{'s' if self.games != 1 else ''} to {self.topic} "
            f"in {self.seconds:.2f} s ({self.events_per_second:,.0f} events/s; files read in "
            f"{self.load_seconds:.2f} s)"
        )


def mirror_folder(mirror: Path | None) -> Path:
    root = mirror or mirror_root()
    if root is None:
        raise ReplayError("replay reads the data mirror: set PLAYCAST_DATA_MIRROR (e.g. ../shared/data)")
    return Path(root)


def game_file(game_id: str, mirror: Path | None = None) -> Path:
    season = game_id.split("_")[0]
    if not season.isdigit() or len(game_id.split("_")) != 4:
        raise ReplayError(f"{game_id!r} is not an nflverse game id like 2023_22_SF_KC")
    path = mirror_folder(mirror) / "nfl" / "shield_raw" / season / f"{game_id}.json.gz"
    if not path.exists():
        raise ReplayError(f"game {game_id}: no game feed file {path}")
    return path


def season_game_ids(season: int, mirror: Path | None = None) -> list[str]:
    folder = mirror_folder(mirror) / "nfl" / "shield_raw" / str(season)
    games = sorted(p.name.split(".")[0] for p in folder.glob("*.json.gz"))
    if not games:
        raise ReplayError(f"season {season}: no game feed files in {folder}")
    return games


def load_game(game_id: str, mirror: Path | None = None) -> list[dict]:
    """The game's non-deleted plays as raw.nfl_game_feed rows, in play_sequence order."""
    path = game_file(game_id, mirror)
    try:
        rows = parse_game(read_game_file(path), game_id, str(path))
    except SourceError as error:
        raise ReplayError(str(error)) from error
    return sorted((r for r in rows if not r["play_deleted"]), key=lambda r: r["play_sequence"])


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def timeline(rows: list[dict]) -> list[tuple[float, dict, dict]]:
    """(pacing time, row, scoreboard after the play) for one game's plays, times non-decreasing.

    Pacing time = play_start_time, else play_end_time, else the previous play's; plays before the first
    timed play get the first known time. The scoreboard (informational) is derived from the scoring plays
    and the drive team.
    """
    known = [t for t in (_seconds(r["play_start_time"]) or _seconds(r["play_end_time"]) for r in rows) if t]
    current = known[0] if known else 0.0
    score = {rows[0]["home_team"]: 0, rows[0]["away_team"]: 0} if rows else {}
    out = []
    for row in rows:
        t = _seconds(row["play_start_time"]) or _seconds(row["play_end_time"])
        current = max(current, t) if t else current
        if row["play_scored"] and row["scoring_team"] in score:
            score[row["scoring_team"]] += POINTS.get(row["scoring_play_type"] or "", 0)
        board = {
            "home_score": score[row["home_team"]],
            "away_score": score[row["away_team"]],
            "possession": row["drive_team"],
        }
        out.append((current, row, board))
    return out


def merged(
    timelines: Iterable[Iterable[tuple[float, dict, dict | None]]],
) -> Iterator[tuple[float, dict, dict | None]]:
    """All games' (pacing time, row, extra) interleaved by pacing time (ties: game order, then row order)."""
    streams = [
        ((t, g, i, row, extra) for i, (t, row, extra) in enumerate(items))
        for g, items in enumerate(timelines)
    ]
    for t, _g, _i, row, extra in heapq.merge(*streams, key=lambda item: item[:3]):
        yield t, row, extra


def parse_speed(text: str | float) -> float | None:
    """'max' -> None (as fast as possible); a positive number -> that factor."""
    if isinstance(text, str) and text.strip().lower() == "max":
        return None
    try:
        factor = float(text)
    except ValueError:
        raise ValueError(f"speed {text!r}: expected a positive number (N x real time) or 'max'") from None
    if not factor > 0:
        raise ValueError(f"speed {text!r}: expected a positive number (N x real time) or 'max'")
    return factor


def games_to_replay(game_ids: Iterable[str], season_games: Iterable[str]) -> list[str]:
    """The given games, then the season's others, each once and in order; an error when there are none."""
    ids = list(dict.fromkeys([*game_ids, *season_games]))
    if not ids:
        raise ReplayError("nothing to replay: give game ids and/or a season")
    return ids


def replay_nfl(
    bootstrap: str,
    game_ids: Iterable[str] = (),
    *,
    season: int | None = None,
    speed: str | float | None = "max",
    topic: str = NFL_TOPIC,
    mirror: Path | None = None,
    progress_every: int = 5000,
    progress: Callable[[str], None] = log.info,
) -> ReplayStats:
    """Publish the games' plays (and every game of `season`, if given) to `topic`; returns the counts."""
    ids = games_to_replay(game_ids, season_game_ids(season, mirror) if season is not None else [])
    started = time.monotonic()
    timelines = [timeline(load_game(g, mirror)) for g in ids]
    load_seconds = time.monotonic() - started
    sent, seconds = publish(
        bootstrap, timelines, topic, lambda row, board: events.encode(row, scoreboard=board), "game_id",
        speed=speed, progress_every=progress_every, progress=progress,
    )  # fmt: skip
    return ReplayStats(sent, len(ids), seconds, load_seconds, topic)


def publish(
    bootstrap: str,
    timelines: Sequence[Sequence[tuple[float, dict, dict | None]]],
    topic: str,
    encode: Callable[[dict, dict | None], bytes],
    key: str,
    *,
    speed: str | float | None = "max",
    progress_every: int = 5000,
    progress_seconds: float = 10.0,
    progress: Callable[[str], None] = log.info,
) -> tuple[int, float]:
    """Send every game's rows (encoded, keyed by the row's `key` column) interleaved by pacing time, at
    `speed` x the pacing time's pace; returns (events sent, publishing seconds). Progress is reported every
    `progress_every` events and at least every `progress_seconds` (a paced game sends a few a minute)."""
    factor = parse_speed(speed) if speed is not None else None
    total = sum(len(items) for items in timelines)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="playcast-replay",
        linger_ms=0 if factor else 20,
        batch_size=16384 if factor else 64 * 1024,
        # compressed: bytes are what limit a local broker (Tansu + kafka-python measured ~2.5k events/s
        # uncompressed vs ~20k/s with gzip); zstd publishes and reads faster than gzip (BENCHMARKS.md)
        compression_type="zstd",
        request_timeout_ms=15000,
    )
    failures: list[BaseException] = []
    sent = 0
    try:
        started = reported = time.monotonic()
        previous_t: float | None = None
        due = 0.0  # seconds after `started` when the current row is due
        for t, row, extra in merged(timelines):
            if factor is not None:
                if previous_t is not None:
                    due += min(max(t - previous_t, 0.0), MAX_GAP_S) / factor
                previous_t = t
                wait = started + due - time.monotonic()
                if wait > 0:
                    producer.flush()
                    time.sleep(wait)
            value = encode(row, extra)
            producer.send(topic, key=str(row[key]).encode(), value=value).add_errback(failures.append)
            sent += 1
            now = time.monotonic()
            if (progress_every and sent % progress_every == 0) or now - reported >= progress_seconds:
                reported, elapsed = now, now - started
                progress(f"replay: {sent}/{total} events, {elapsed:.1f} s, {sent / elapsed:,.0f} events/s")
            if failures:
                break
        producer.flush()
        seconds = time.monotonic() - started
    finally:
        producer.close(timeout=5)
    if failures:
        raise ReplayError(f"the broker at {bootstrap} refused events for {topic}: {failures[0]!r}")
    return sent, seconds
