"""stream/batch_decode.py: a batch decoded column-wise gives exactly what `decode` gives record by record."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pyarrow as pa
import pytest

from ingest.nba_stats import PBP_SCHEMA
from ingest.nfl_game_feed import SCHEMA as FEED_SCHEMA
from stream import events
from stream.batch_decode import MIN_CHUNK, decode_batch, decoded_row, row_columns_schema
from stream.envelope import EventSchema, InvalidEvent
from stream.nba_events import NBA_ACTION
from stream.nba_replay import load_games
from tests.test_stream import MALFORMED, SUPER_BOWL, mutate

NBA_GAME = "0022400002"


def reference(schema: EventSchema, row_schema: pa.Schema, values: list) -> tuple[pa.Table, dict[int, str]]:
    """`decode` one record at a time, rows in the batch's layout."""
    rows, rejected = [], {}
    for i, value in enumerate(values):
        try:
            event = schema.decode(value)
            row = decoded_row(schema, i, event)
            pa.Table.from_pylist([row], schema=row_columns_schema(row_schema))  # fits the columns
        except InvalidEvent as error:
            rejected[i] = str(error)
        except (pa.ArrowInvalid, OverflowError):
            rejected[i] = "value out of range"
        else:
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=row_columns_schema(row_schema)), rejected


def assert_same_as_decode(schema: EventSchema, row_schema: pa.Schema, values: list):
    batch = decode_batch(schema, row_schema, values)
    rows, rejected = reference(schema, row_schema, values)
    assert batch.rows.equals(rows)
    assert batch.rejected.keys() == rejected.keys()
    for i, reason in rejected.items():
        assert batch.rejected[i].startswith(reason), (i, values[i])
    return batch


@pytest.fixture(scope="module")
def nfl_values(data_mirror) -> list[bytes]:
    from stream.replay import load_game

    plays = load_game(SUPER_BOWL, data_mirror)
    board = {"home_score": 0, "away_score": 0, "possession": "KC"}
    return [events.encode(row, sent_at="2024-02-11T23:40:00Z", scoreboard=board) for row in plays]


def test_a_real_game_is_decoded_column_wise_as_decode_does_it(nfl_values):
    batch = assert_same_as_decode(events.NFL_PLAY, FEED_SCHEMA, nfl_values)
    assert batch.rows.num_rows == len(nfl_values) and not batch.rejected
    # only records with 'NaN' / 'Inf' in them (e.g. "Neutral Zone Infraction") are decoded one by one
    suspects = sum(1 for v in nfl_values if b"NaN" in v or b"Inf" in v)
    assert batch.one_by_one == suspects < len(nfl_values) // 10


def _weird(fresh: Callable[[], dict]) -> list[bytes]:
    """Text the two parsers could tell apart: JSON corner cases, framing, ranges, the stats text."""
    event = fresh()
    plain = json.dumps(event)
    return [
        json.dumps({**event, "extra": float("nan")}).encode(),  # NaN in a field nobody reads: not JSON
        mutate(fresh(), "play.play_sequence", float("inf")),
        json.dumps(event, indent=2).encode(),  # line breaks between tokens: valid
        b"\xef\xbb\xbf" + plain.encode(),  # a byte-order mark: not JSON for orjson
        b"  " + plain.encode() + b"\r",  # surrounding whitespace: valid
        plain.replace('"play": {', '"play": {"down": "x", ', 1).encode(),  # repeated field: the last counts
        (plain + plain).encode(),  # two objects in one record
        b"",
        b"   ",
        mutate(fresh(), "play.down", 2**40),  # an integer, but not one of the int32 column
        mutate(fresh(), "play.play_id", 2**63),
        mutate(fresh(), "play.stats", '[{"statType": 68}, ]'),  # trailing comma: DuckDB reads it, JSON not
        mutate(fresh(), "play.stats", '[{"yards": NaN}]'),
        mutate(fresh(), "play.stats", '[] , "x": 1'),
        mutate(fresh(), "play.stats", '[{"yards": 1e999}]'),
        mutate(fresh(), "play.stats", "  [ ]  "),
        mutate(fresh(), "event_time", None),
        json.dumps({k: v for k, v in event.items() if k not in ("event_time", "scoreboard")}).encode(),
        mutate(fresh(), "play.description", "Neutral Zone Infraction, NaN yards"),
        mutate(fresh(), "play.description", "two\nlines"),  # an escaped line break inside a string: valid
    ]


def test_malformed_and_unusual_events_get_decodes_verdict_in_a_mixed_batch(nfl_values):
    def fresh() -> dict:
        return json.loads(nfl_values[40])

    odd = [make(fresh()) for _, make, _ in MALFORMED] + _weird(fresh)
    values = list(nfl_values)
    rng = random.Random(7)
    for value in odd:
        values.insert(rng.randrange(len(values) + 1), value)
    batch = assert_same_as_decode(events.NFL_PLAY, FEED_SCHEMA, values)
    assert len(batch.rejected) >= len(MALFORMED) + 10
    assert any("out of range" in reason for reason in batch.rejected.values())
    assert batch.one_by_one < len(values) // 2  # the bad chunks were narrowed down, not given up on


def test_one_bad_record_costs_one_small_chunk(nfl_values):
    values = list(nfl_values)
    values.insert(100, mutate(json.loads(values[40]), "play.quarter", "4"))  # pyarrow rejects its chunk
    batch = decode_batch(events.NFL_PLAY, FEED_SCHEMA, values)
    assert list(batch.rejected) == [100]
    suspects = sum(1 for v in nfl_values if b"NaN" in v or b"Inf" in v)
    assert batch.one_by_one <= MIN_CHUNK + suspects


def test_nba_actions_and_their_malformed_cases(data_mirror):
    actions = load_games([NBA_GAME], data_mirror)[NBA_GAME]
    values = [NBA_ACTION.encode(a, sent_at="2024-10-24T23:00:00Z") for a in actions]
    arabic_indic_11 = "\u0661\u0661"
    for path, value in [("action.clock", "11:41"), ("action.clock", f"PT{arabic_indic_11}M00.00S"),
                        ("action.actionId", 3.0), ("action.scoreHome", "2"), ("action.period", True),
                        ("event_id", "x:1")]:  # fmt: skip
        event = json.loads(values[2])
        *parents, last = path.split(".")
        target = event
        for key in parents:
            target = target[key]
        target[last] = value
        values.insert(len(values) // 2, json.dumps(event).encode())
    batch = assert_same_as_decode(NBA_ACTION, PBP_SCHEMA, values)
    assert batch.rows.num_rows == len(actions)
    assert len(batch.rejected) == 6  # Arabic-Indic digits in the clock too: the SQL reads ASCII digits


def test_a_row_schema_that_does_not_match_the_json_types_is_refused():
    wrong = FEED_SCHEMA.set(FEED_SCHEMA.get_field_index("down"), pa.field("down", pa.float64()))
    with pytest.raises(TypeError, match="'down' is integer in JSON but double in Arrow"):
        decode_batch(events.NFL_PLAY, wrong, [b"{}"])
