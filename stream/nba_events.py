"""The NBA action event `playcast.nba.action/1`: one PlayByPlayV3 action, JSON on `playcast.nba.actions`.

Kafka record: key = gameId (UTF-8), so every action of a game lands on one partition, in order; value = one
UTF-8 JSON object:

    {
      "schema": "playcast.nba.action/1",       required, exactly this string
      "event_id": "0022300001:3",              required, "<gameId>:<actionId>" (unique per action;
                                               actionNumber is not: a steal shares its turnover's)
      "event_time": null,                      string, or null / omitted when unknown: when the action
                                               happened (ISO 8601). PlayByPlayV3 has no wall-clock time, so
                                               replays send null; a live feed sends its action timestamp.
      "sent_at": "2026-05-01T12:00:00.123456Z", required: when the producer sent it (UTC, ISO 8601)
      "action": { ...the raw.nba_pbp columns, below... }   required
    }

`action` holds exactly the 24 PlayByPlayV3 columns of `raw.nba_pbp` (ingest/nba_stats.py `PBP_SCHEMA`, the
season files' names), with the same values, so the dbt feature SQL that builds `marts.nba_wp_features` from
that table runs unchanged over decoded live actions. JSON types follow the table's types:

| field | JSON type | required | | field | JSON type | required |
| --- | --- | --- | --- | --- | --- | --- |
| gameId | string ('0022300001') | yes | | shotResult | string or null ('Made', 'Missed') | no |
| actionNumber | integer | yes | | isFieldGoal | integer or null (0/1) | no |
| clock | string 'PT11M36.00S' | yes | | scoreHome, scoreAway | number or null (null on most rows) | no |
| period | integer (5+ = overtime) | yes | | pointsTotal | integer or null | no |
| teamId | integer or null | no | | location | string or null ('h', 'v') | no |
| teamTricode | string or null ('BOS') | no | | description | string or null | no |
| personId | integer or null | no | | actionType | string or null ('Made Shot', ...) | no |
| playerName, playerNameI | string or null | no | | subType | string or null | no |
| xLegacy, yLegacy | integer or null | no | | videoAvailable | integer or null | no |
| shotDistance | integer or null | no | | shotValue | integer or null | no |
| actionId | integer (1, 2, ... per game) | yes | | | | |

Required = present and not null: they identify and order the action and place it on the game clock.
Optional fields may be missing or null (decode fills missing ones with null). Integers must be JSON integers
(1.0 and true are rejected); numbers may be integers or decimals. `clock` must be ISO 8601 minutes and
seconds ('PT11M36.00S').

Versioning: as for `playcast.nfl.play` (stream/events.py): the major version is in `schema`; an added
optional field keeps `/1`, consumers ignore unknown fields; removing or retyping a field or making one
required is `/2`, and `decode` rejects versions it does not know, so such events become dead letters.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from ingest.nba_stats import PBP_SCHEMA
from stream.envelope import EventSchema, InvalidEvent

_JSON_TYPES = {pa.int64(): "integer", pa.float64(): "number", pa.string(): "string"}
# raw.nba_pbp's PlayByPlayV3 columns, in table order -> accepted JSON type
ACTION_COLUMNS: dict[str, str] = {f.name: _JSON_TYPES[f.type] for f in PBP_SCHEMA}
REQUIRED_ACTION_FIELDS = ("gameId", "actionNumber", "clock", "period", "actionId")
CLOCK = re.compile(r"PT([0-9]+)M([0-9]+(?:\.[0-9]+)?)S")  # ASCII digits ('\d' would take any script's)


def clock_seconds(clock: str) -> float:
    """'PT11M36.00S' -> 696.0 seconds left in the period."""
    match = CLOCK.fullmatch(clock)
    if match is None:
        raise InvalidEvent(
            f"wrong format for field 'action.clock' (expected 'PT11M36.00S', got {clock!r:.40})"
        )
    return int(match[1]) * 60 + float(match[2])


def _check(action: dict) -> None:
    clock_seconds(action["clock"])


def _clocks_are_well_formed(actions: pa.Table) -> pa.ChunkedArray:
    """`_check` for many actions at once."""
    return pc.match_substring_regex(actions.column("clock"), f"^{CLOCK.pattern}$")


NBA_ACTION = EventSchema(
    name="playcast.nba.action",
    version=1,
    payload="action",
    columns=ACTION_COLUMNS,
    required=REQUIRED_ACTION_FIELDS,
    id_fields=("gameId", "actionId"),
    event_time=lambda action: None,
    check=_check,
    batch_check=_clocks_are_well_formed,
)
SCHEMA = NBA_ACTION.schema
