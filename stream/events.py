"""The NFL play event `playcast.nfl.play/1`: one play as a live feed sends it, JSON on `playcast.nfl.plays`.

Kafka record: key = game_id (UTF-8), so every play of a game lands on one partition, in order; value = one
UTF-8 JSON object:

    {
      "schema": "playcast.nfl.play/1",           required, exactly this string
      "event_id": "2023_22_SF_KC:40",            required, "<game_id>:<play_id>" (unique per play)
      "event_time": "2024-02-11T23:40:31.587Z",  string, or null / omitted when unknown: when the play
                                                 happened (the feed's play_end_time, else play_start_time;
                                                 null when the feed has neither, e.g. GAME_START rows).
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

from typing import TYPE_CHECKING

import orjson

from stream.envelope import EventSchema, InvalidEvent

if TYPE_CHECKING:
    import pyarrow as pa

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


def event_time(play: dict) -> str | None:
    """When the play happened: play_end_time, else play_start_time, else None."""
    return play.get("play_end_time") or play.get("play_start_time")


def _stats_is_a_json_array(play: dict) -> None:
    stats = play.get("stats")
    if stats is not None:
        try:
            parsed = orjson.loads(stats)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list):
            raise InvalidEvent("wrong type for field 'play.stats' (expected a JSON array as text, e.g. '[]')")


# DuckDB's JSON reader also takes trailing commas, NaN / Infinity and exponents beyond a double, which JSON
# (and orjson) refuse: stats text that may hold one is left to `decode` (the pattern may match harmless text)
_LAX_JSON = r"(?i:nan|inf)|,\s*[\]}]|[\[:,]\s*-?[0-9.]+[eE]\+?[0-9]{3}"


def _stats_are_json_arrays(plays: pa.Table) -> pa.ChunkedArray:
    """`_stats_is_a_json_array` for many plays at once (False: not sure, ask `decode`)."""
    import duckdb  # only the batch path needs it

    return (
        duckdb.sql(
            "select stats is null or coalesce(try(json_type(stats)) = 'ARRAY' "
            f"and not regexp_matches(stats, '{_LAX_JSON}'), false) as ok from plays"
        )
        .to_arrow_table()
        .column("ok")
    )


NFL_PLAY = EventSchema(
    name="playcast.nfl.play",
    version=1,
    payload="play",
    columns=PLAY_COLUMNS,
    required=REQUIRED_PLAY_FIELDS,
    id_fields=("game_id", "play_id"),
    event_time=event_time,
    defaults={"stats": "[]"},
    check=_stats_is_a_json_array,
    batch_check=_stats_are_json_arrays,
    extras={"scoreboard": SCOREBOARD_FIELDS},
)
SCHEMA = NFL_PLAY.schema


def build(row: dict, sent_at: str | None = None, scoreboard: dict | None = None) -> dict:
    """The event object for one raw.nfl_game_feed row (missing optional columns become null)."""
    return NFL_PLAY.build(row, sent_at, scoreboard=scoreboard)


def encode(row: dict, sent_at: str | None = None, scoreboard: dict | None = None) -> bytes:
    """UTF-8 JSON of the event for one raw.nfl_game_feed row (validated: a bad row raises InvalidEvent)."""
    return NFL_PLAY.encode(row, sent_at, scoreboard=scoreboard)


def decode(value: bytes | str | None) -> dict:
    """The validated event: envelope keys, `play` with every raw.nfl_game_feed column (missing optional ->
    None) and `scoreboard` (dict or None). Raises InvalidEvent with the reason."""
    return NFL_PLAY.decode(value)
