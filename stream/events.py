"""The NFL play event `playcast.nfl.play/1`: one play as a live feed sends it, JSON on `playcast.nfl.plays`.

Kafka record: key = game_id (UTF-8), so every play of a game lands on one partition, in order; value = one
UTF-8 JSON object:

    {
      "schema": "playcast.nfl.play/1",           required, exactly this string
      "event_id": "2023_22_SF_KC:40",            required, "<game_id>:<play_id>" (unique per play)
      "event_time": "2024-02-11T23:40:31.587Z",  required key, string or null: when the play happened (the
                                                 feed's play_end_time, else play_start_time; null when the
                                                 feed has neither, e.g. GAME_START / END_GAME rows).
                                                 Historical in replays.
      "sent_at": "2026-05-01T12:00:00.123456Z",  required: when the producer sent it (UTC, ISO 8601); use it
                                                 (or the Kafka record timestamp) for end-to-end latency
      "play": { ...the raw.nfl_game_feed columns, below... },              required
      "scoreboard": {"home_score": 3, "away_score": 0, "home_timeouts": 3,  optional, informational only:
                     "away_timeouts": 2, "possession": "KC"}                what the feed reports AFTER the
                                                                            play; features must not use it
    }

`play` holds exactly the columns of `raw.nfl_game_feed` (ingest/nfl_game_feed.py), with the same values, so
the dbt feature SQL (macros/nfl/nfl_play_state.sql ...) that builds `marts.nfl_wp_features` from that table
runs unchanged over decoded live events:

| field | JSON type | required | | field | JSON type | required |
| --- | --- | --- | --- | --- | --- | --- |
| season | integer | yes | | down | integer or null (0 = none) | no |
| week | integer | yes | | yards_to_go | integer or null | no |
| season_type | string (REG, POST, PRE) | yes | | yard_line | string or null ('KC 35', '50') | no |
| game_id | string (nflverse: 2023_22_SF_KC) | yes | | yards_gained | integer or null | no |
| home_team, away_team | string (nflverse abbr) | yes | | is_goal_to_go | boolean or null | no |
| home_team_id, away_team_id | string (NFL.com team id) | yes | | is_end_of_quarter | boolean or null | no |
| play_id | integer | yes | | play_deleted | boolean or null | no |
| play_sequence | number | yes | | play_scored | boolean or null | no |
| quarter | integer (5 = overtime) | yes | | scoring_play_type | string or null | no |
| clock | string 'MM:SS' or null | no | | scoring_team_id, scoring_team | string or null | no |
| play_type | string (PASS, RUSH, TIMEOUT, ...) | yes | | drive_sequence | integer or null | no |
| description | string or null | no | | drive_team_id, drive_team | string or null | no |
| pre_play | string or null ('KC  1-10  KC 25') | no | | special_teams_play_type | string or null | no |
| stats | string: JSON array of stat objects | no | | next_play_type | string or null | no |
| source_file | string or null (origin) | no | | play_start_time, play_end_time | string or null | no |

Required = present and not null; these identify and order the play, tie it to its teams, and the features
cannot be computed without them. Optional fields may be missing or null (decode fills missing ones with
null; the feed itself leaves clock, pre_play, yard_line, times and scoring fields null on many rows).
`stats` defaults to "[]" when missing (the game-feed loader writes "[]" for a play without stats).
Booleans must be JSON booleans and integers JSON integers (1.0 and true are rejected for integers).

Versioning: the major version is in `schema`. Adding an optional field keeps `/1`; consumers ignore fields
they do not know. Removing or retyping a field, or making one required, is `/2`; `decode` rejects versions
it does not know with a clear reason, so such events go to the dead-letter table instead of being guessed at.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson

SCHEMA_NAME = "playcast.nfl.play"
SCHEMA_VERSION = 1
SCHEMA = f"{SCHEMA_NAME}/{SCHEMA_VERSION}"

# raw.nfl_game_feed columns, in table order -> accepted JSON type
PLAY_COLUMNS: dict[str, str] = {
    "season": "integer",
    "week": "integer",
    "season_type": "string",
    "game_id": "string",
    "home_team": "string",
    "away_team": "string",
    "home_team_id": "string",
    "away_team_id": "string",
    "play_id": "integer",
    "play_sequence": "number",
    "quarter": "integer",
    "clock": "string",
    "play_type": "string",
    "description": "string",
    "pre_play": "string",
    "down": "integer",
    "yards_to_go": "integer",
    "yard_line": "string",
    "yards_gained": "integer",
    "is_goal_to_go": "boolean",
    "is_end_of_quarter": "boolean",
    "play_deleted": "boolean",
    "play_scored": "boolean",
    "scoring_play_type": "string",
    "scoring_team_id": "string",
    "scoring_team": "string",
    "drive_sequence": "integer",
    "drive_team_id": "string",
    "drive_team": "string",
    "special_teams_play_type": "string",
    "next_play_type": "string",
    "play_start_time": "string",
    "play_end_time": "string",
    "stats": "string",
    "source_file": "string",
}
REQUIRED_PLAY_FIELDS = (
    "season",
    "week",
    "season_type",
    "game_id",
    "home_team",
    "away_team",
    "home_team_id",
    "away_team_id",
    "play_id",
    "play_sequence",
    "quarter",
    "play_type",
)
SCOREBOARD_FIELDS: dict[str, str] = {
    "home_score": "integer",
    "away_score": "integer",
    "home_timeouts": "integer",
    "away_timeouts": "integer",
    "possession": "string",
}


class InvalidEvent(ValueError):
    """A record value that is not a valid playcast.nfl.play event; str() is the reason."""


# the Python types JSON values of each kind decode to (a bool is not an integer here)
_PYTHON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,)}
_PLAY_CHECKS = tuple((field, _PYTHON_TYPES[expected]) for field, expected in PLAY_COLUMNS.items())


def _type_ok(value: Any, expected: str) -> bool:
    return type(value) in _PYTHON_TYPES[expected]


def _json_type(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), "null" if value is None else type(value).__name__)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event_time(play: dict) -> str | None:
    """When the play happened: play_end_time, else play_start_time, else None."""
    return play.get("play_end_time") or play.get("play_start_time")


def build(row: dict, sent_at: str | None = None, scoreboard: dict | None = None) -> dict:
    """The event object for one raw.nfl_game_feed row (missing optional columns become null)."""
    play = {column: row.get(column) for column in PLAY_COLUMNS}
    if play["stats"] is None:
        play["stats"] = "[]"
    event = {
        "schema": SCHEMA,
        "event_id": f"{play['game_id']}:{play['play_id']}",
        "event_time": event_time(play),
        "sent_at": sent_at or utc_now(),
        "play": play,
    }
    if scoreboard is not None:
        event["scoreboard"] = {k: scoreboard.get(k) for k in SCOREBOARD_FIELDS}
    return event


def encode(row: dict, sent_at: str | None = None, scoreboard: dict | None = None) -> bytes:
    """UTF-8 JSON of the event for one raw.nfl_game_feed row (validated: a bad row raises InvalidEvent)."""
    event = build(row, sent_at, scoreboard)
    _validate(event)
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def decode(value: bytes | str | None) -> dict:
    """The validated event: envelope keys, `play` with every raw.nfl_game_feed column (missing optional ->
    None) and `scoreboard` (dict or None). Raises InvalidEvent with the reason."""
    if value is None:
        raise InvalidEvent("empty record (no value; a tombstone?)")
    try:
        event = orjson.loads(value.decode("utf-8") if isinstance(value, bytes | bytearray) else value)
    except UnicodeDecodeError as error:
        raise InvalidEvent(f"not UTF-8 text ({error})") from None
    except orjson.JSONDecodeError as error:
        raise InvalidEvent(f"not JSON ({error})") from None
    if not isinstance(event, dict):
        raise InvalidEvent(f"not a JSON object (got {_json_type(event)})")
    return _validate(event)


def _validate(event: dict) -> dict:
    schema = event.get("schema")
    if schema is None:
        raise InvalidEvent("missing required field 'schema'")
    if not isinstance(schema, str):
        raise InvalidEvent(f"wrong type for field 'schema' (expected string, got {_json_type(schema)})")
    name, _, version = schema.rpartition("/")
    if name != SCHEMA_NAME:
        raise InvalidEvent(f"unknown schema {schema!r} (expected {SCHEMA!r})")
    if version != str(SCHEMA_VERSION):
        raise InvalidEvent(f"unsupported schema version {schema!r} (this consumer reads {SCHEMA!r})")

    for field in ("event_id", "sent_at"):
        _require(event, field, "string", "")
    if "event_time" not in event:
        raise InvalidEvent("missing required field 'event_time' (null is allowed when unknown)")
    _check_type(event, "event_time", "string", "")

    play = event.get("play")
    if play is None:
        raise InvalidEvent("missing required field 'play'")
    if not isinstance(play, dict):
        raise InvalidEvent(f"wrong type for field 'play' (expected object, got {_json_type(play)})")
    for field in REQUIRED_PLAY_FIELDS:
        if play.get(field) is None:
            raise InvalidEvent(f"missing required field 'play.{field}'")
    for field, types in _PLAY_CHECKS:  # the hot loop of a backlog: kept to a type lookup per field
        value = play.get(field)
        if value is not None and type(value) not in types:
            _check_type(play, field, PLAY_COLUMNS[field], "play.")
    stats = play.get("stats")
    if stats is not None:
        try:
            parsed = orjson.loads(stats)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list):
            raise InvalidEvent("wrong type for field 'play.stats' (expected a JSON array as text, e.g. '[]')")
    expected_id = f"{play['game_id']}:{play['play_id']}"
    if event["event_id"] != expected_id:
        raise InvalidEvent(
            f"event_id {event['event_id']!r} does not match play game_id:play_id {expected_id!r}"
        )

    scoreboard = event.get("scoreboard")
    if scoreboard is not None:
        if not isinstance(scoreboard, dict):
            raise InvalidEvent(
                f"wrong type for field 'scoreboard' (expected object, got {_json_type(scoreboard)})"
            )
        for field, expected in SCOREBOARD_FIELDS.items():
            _check_type(scoreboard, field, expected, "scoreboard.")
        scoreboard = {field: scoreboard.get(field) for field in SCOREBOARD_FIELDS}

    normalized = {column: play.get(column) for column in PLAY_COLUMNS}
    if normalized["stats"] is None:
        normalized["stats"] = "[]"
    return {
        "schema": schema,
        "event_id": event["event_id"],
        "event_time": event["event_time"],
        "sent_at": event["sent_at"],
        "play": normalized,
        "scoreboard": scoreboard,
    }


def _require(obj: dict, field: str, expected: str, prefix: str) -> None:
    if obj.get(field) is None:
        raise InvalidEvent(f"missing required field '{prefix}{field}'")
    _check_type(obj, field, expected, prefix)


def _check_type(obj: dict, field: str, expected: str, prefix: str) -> None:
    value = obj.get(field)
    if value is not None and not _type_ok(value, expected):
        raise InvalidEvent(
            f"wrong type for field '{prefix}{field}' "
            f"(expected {expected}, got {_json_type(value)} {value!r:.40})"
        )
