"""The envelope every playcast event shares, and its validation; the sports' schemas are instances.

    {"schema": "<name>/<major version>", "event_id": "<game>:<row>", "event_time": str | null (or omitted),
     "sent_at": str, "<payload>": {...one raw-table row...}, ...optional informational objects}

`EventSchema` validates and normalizes such an event: stream/events.py (`playcast.nfl.play/1`) and
stream/nba_events.py (`playcast.nba.action/1`) document the payloads. A value that is not a valid event
raises `InvalidEvent`, whose text is the reason stored with the dead letter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pyarrow as pa


class InvalidEvent(ValueError):
    """A record value that is not a valid event of the schema; str() is the reason."""


# the Python types JSON values of each kind decode to (a bool is not an integer here)
PYTHON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,)}


def json_type(value: Any) -> str:
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


@dataclass(frozen=True)
class EventSchema:
    """One versioned event type: its payload object, the payload's fields and how the event id is formed."""

    name: str  # 'playcast.nfl.play'
    version: int
    payload: str  # the key of the row object: 'play', 'action'
    columns: Mapping[str, str]  # payload field -> JSON type ('string', 'integer', 'number', 'boolean')
    required: tuple[str, ...]  # payload fields that must be present and not null
    id_fields: tuple[str, str]  # event_id = "<first>:<second>" of the payload
    event_time: Callable[[dict], str | None]  # when the row happened (payload -> ISO 8601 or None)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # null/missing optional field -> value
    check: Callable[[dict], None] | None = None  # further payload checks; raise InvalidEvent
    # the same checks over many payloads (columns of the row schema) -> per row: passes `check` for sure
    # (False sends the row to `decode` for the verdict; see stream/batch_decode.py)
    batch_check: Callable[[pa.Table], pa.Array | pa.ChunkedArray] | None = None
    extras: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # optional objects -> fields

    @property
    def schema(self) -> str:
        return f"{self.name}/{self.version}"

    def event_id(self, payload: dict) -> str:
        game, row = self.id_fields
        return f"{payload[game]}:{payload[row]}"

    def build(self, row: Mapping, sent_at: str | None = None, **extras: dict | None) -> dict:
        """The event object for one raw-table row (missing optional columns become null)."""
        payload = self._normalized(row)
        event = {
            "schema": self.schema,
            "event_id": self.event_id(payload),
            "event_time": self.event_time(payload),
            "sent_at": sent_at or utc_now(),
            self.payload: payload,
        }
        for name, value in extras.items():
            if value is not None:
                event[name] = {k: value.get(k) for k in self.extras[name]}
        return event

    def encode(self, row: Mapping, sent_at: str | None = None, **extras: dict | None) -> bytes:
        """UTF-8 JSON of the event for one raw-table row (validated: a bad row raises InvalidEvent)."""
        event = self.build(row, sent_at, **extras)
        self.validate(event)
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, value: bytes | str | None) -> dict:
        """The validated event: envelope keys, the payload with every column (missing optional -> default
        or None) and each informational object (dict or None). Raises InvalidEvent with the reason."""
        if value is None:
            raise InvalidEvent("empty record (no value; a tombstone?)")
        try:
            event = orjson.loads(value.decode("utf-8") if isinstance(value, bytes | bytearray) else value)
        except UnicodeDecodeError as error:
            raise InvalidEvent(f"not UTF-8 text ({error})") from None
        except orjson.JSONDecodeError as error:
            raise InvalidEvent(f"not JSON ({error})") from None
        if not isinstance(event, dict):
            raise InvalidEvent(f"not a JSON object (got {json_type(event)})")
        return self.validate(event)

    def validate(self, event: dict) -> dict:
        """The normalized event (see decode), or InvalidEvent."""
        schema = event.get("schema")
        if schema is None:
            raise InvalidEvent("missing required field 'schema'")
        if not isinstance(schema, str):
            raise InvalidEvent(f"wrong type for field 'schema' (expected string, got {json_type(schema)})")
        name, _, version = schema.rpartition("/")
        if name != self.name:
            raise InvalidEvent(f"unknown schema {schema!r} (expected {self.schema!r})")
        if version != str(self.version):
            raise InvalidEvent(f"unsupported schema version {schema!r} (this consumer reads {self.schema!r})")

        for key in ("event_id", "sent_at"):
            _require(event, key, "string", "")
        _check_type(event, "event_time", "string", "")

        payload = event.get(self.payload)
        if payload is None:
            raise InvalidEvent(f"missing required field '{self.payload}'")
        if not isinstance(payload, dict):
            raise InvalidEvent(
                f"wrong type for field '{self.payload}' (expected object, got {json_type(payload)})"
            )
        prefix = f"{self.payload}."
        for key in self.required:
            if payload.get(key) is None:
                raise InvalidEvent(f"missing required field '{prefix}{key}'")
        row = _checked_copy(payload, self._allowed_types[self.payload], prefix)
        if self.check is not None:
            self.check(payload)
        expected_id = self.event_id(payload)
        if event["event_id"] != expected_id:
            game, row = self.id_fields
            raise InvalidEvent(
                f"event_id {event['event_id']!r} does not match {self.payload} {game}:{row} {expected_id!r}"
            )

        normalized = {
            "schema": schema,
            "event_id": event["event_id"],
            "event_time": event.get("event_time"),
            "sent_at": event["sent_at"],
            self.payload: self._with_defaults(row),
        }
        for name in self.extras:
            normalized[name] = self._extra(event.get(name), name)
        return normalized

    def _extra(self, value: Any, name: str) -> dict | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidEvent(f"wrong type for field '{name}' (expected object, got {json_type(value)})")
        return _checked_copy(value, self._allowed_types[name], f"{name}.")

    @cached_property
    def _allowed_types(self) -> dict[str, tuple[tuple[str, str, tuple[type, ...]], ...]]:
        """Per object (the payload, each extra): (field, JSON type, Python types it may decode to)."""
        objects = {self.payload: self.columns, **self.extras}
        return {
            name: tuple((key, expected, PYTHON_TYPES[expected]) for key, expected in fields.items())
            for name, fields in objects.items()
        }

    def _normalized(self, payload: Mapping) -> dict:
        return self._with_defaults({column: payload.get(column) for column in self.columns})

    def _with_defaults(self, row: dict) -> dict:
        for column, default in self.defaults.items():
            if row[column] is None:
                row[column] = default
        return row


def _checked_copy(obj: dict, fields: tuple[tuple[str, str, tuple[type, ...]], ...], prefix: str) -> dict:
    """The fields of `obj` (missing -> None), each of its allowed types: the hot loop of a backlog."""
    row = {}
    for key, expected, allowed in fields:
        value = obj.get(key)
        if value is not None and type(value) not in allowed:
            _check_type(obj, key, expected, prefix)
        row[key] = value
    return row


def _require(obj: dict, key: str, expected: str, prefix: str) -> None:
    if obj.get(key) is None:
        raise InvalidEvent(f"missing required field '{prefix}{key}'")
    _check_type(obj, key, expected, prefix)


def _check_type(obj: dict, key: str, expected: str, prefix: str) -> None:
    value = obj.get(key)
    if value is not None and type(value) not in PYTHON_TYPES[expected]:
        raise InvalidEvent(
            f"wrong type for field '{prefix}{key}' "
            f"(expected {expected}, got {json_type(value)} {value!r:.40})"
        )
