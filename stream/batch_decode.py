"""Decode a batch of records at once: pyarrow's JSON reader for plain ones, `EventSchema.decode` for the rest.

A backlog is parsed column-wise by pyarrow's C++ reader with explicit types derived from the schema. On types
it is exactly as strict as `decode` (orjson + the schema's checks): 1.0 or true for an integer, a number for a
string, a repeated field, a bad surrogate or an out-of-range number make it reject the whole chunk. The checks
it cannot express are vectorized on the parsed columns (schema name, required fields, event id, the schema's
`batch_check`). Whatever either step would not accept goes to `decode`, one record at a time, which gives the
reason or accepts the record after all: chunks the reader rejects (halved until the bad records are found),
records with text pyarrow accepts but JSON does not (NaN, Infinity, a byte-order mark) or that would break
the one-record-per-line framing (a line break, an empty value), and rows failing a vectorized check. So the
result equals decoding every record with `decode` (tests/test_batch_decode.py checks both on real games and
on every malformed case of tests/test_stream.py), at a fraction of the cost (BENCHMARKS.md).
"""

from __future__ import annotations

import bisect
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from stream.envelope import EventSchema, InvalidEvent

# the Arrow types a field of each JSON type may have in a row schema (pyarrow then checks JSON types exactly)
ARROW_TYPES = {
    "integer": (pa.int32(), pa.int64()),
    "number": (pa.float64(),),
    "string": (pa.string(),),
    "boolean": (pa.bool_(),),
}
_EXTRA_TYPES = {"integer": pa.int64(), "number": pa.float64(), "string": pa.string(), "boolean": pa.bool_()}
INDEX = "index"  # the record's position in the batch
MIN_CHUNK = 16  # a rejected chunk is halved down to this many records, then decoded record by record
_NOT_JSON = (b"NaN", b"Inf")  # NaN, Infinity, -Inf...: values pyarrow accepts and JSON (orjson) does not
_BOM = b"\xef\xbb\xbf"  # pyarrow skips one at the start of a line


@dataclass
class DecodedBatch:
    rows: pa.Table  # per accepted record: INDEX, the payload's columns (row schema), event_time, sent_at
    rejected: dict[int, str]  # record index -> reason
    one_by_one: int  # records `decode` had to look at (the rest was decoded column-wise)


def row_columns_schema(row_schema: pa.Schema) -> pa.Schema:
    """The decoded rows' schema: INDEX, the payload columns, event_time and sent_at."""
    return pa.schema(
        [(INDEX, pa.int64()), *row_schema, ("event_time", pa.string()), ("sent_at", pa.string())]
    )


def _event_schema(events: EventSchema, row_schema: pa.Schema) -> pa.Schema:
    """The explicit schema pyarrow parses an event with; checks that the row schema fits the JSON types."""
    for name, json_type in events.columns.items():
        arrow_type = row_schema.field(name).type
        if arrow_type not in ARROW_TYPES[json_type]:
            raise TypeError(
                f"{events.schema}: column {name!r} is {json_type} in JSON but {arrow_type} in Arrow"
            )
    if set(row_schema.names) != set(events.columns):
        raise TypeError(f"{events.schema}: the row schema's columns differ from the event's payload fields")
    extras = [
        (name, pa.struct([(f, _EXTRA_TYPES[t]) for f, t in fields.items()]))
        for name, fields in events.extras.items()
    ]
    envelope = [(key, pa.string()) for key in ("schema", "event_id", "event_time", "sent_at")]
    return pa.schema([*envelope, (events.payload, pa.struct(list(row_schema))), *extras])


def decode_batch(events: EventSchema, row_schema: pa.Schema, values: Sequence[bytes | None]) -> DecodedBatch:
    """The accepted records' rows and the rejected ones' reasons, as `events.decode` would give them."""
    slow = {i for i, v in enumerate(values) if not v or v.isspace() or b"\n" in v or v.startswith(_BOM)}
    plain = [i for i in range(len(values)) if i not in slow]
    text = b"\n".join(values[i] for i in plain)
    slow |= _containing(_NOT_JSON, text, plain, values)
    parsed, rejected_chunks = _read_json_lines(values, plain, _event_schema(events, row_schema), text)
    slow.update(rejected_chunks)
    tables = []
    if parsed.num_rows:
        ok = pc.and_(
            _vectorized_checks(events, parsed),
            pc.invert(pc.is_in(parsed.column(INDEX), pa.array(sorted(slow), pa.int64()))),
        )
        slow.update(parsed.filter(pc.invert(ok)).column(INDEX).to_pylist())
        tables.append(_rows(events, row_schema, parsed.filter(ok)))
    rows, rejected = _decode_one_by_one(events, row_schema, values, sorted(slow))
    return DecodedBatch(pa.concat_tables([*tables, rows]).sort_by(INDEX), rejected, len(slow))


def _containing(
    markers: Sequence[bytes], text: bytes, indices: list[int], values: Sequence[bytes]
) -> set[int]:
    """Which of values[indices] contain a marker, given `text` = their values joined by one byte."""
    found: set[int] = set()
    starts: list[int] = []
    for marker in markers:
        at = text.find(marker)
        while at >= 0:
            starts = starts or list(itertools.accumulate((len(values[i]) + 1 for i in indices), initial=0))
            found.add(indices[bisect.bisect_right(starts, at) - 1])
            at = text.find(marker, at + 1)
    return found


def _read_json_lines(
    lines: Sequence[bytes | None], indices: list[int], schema: pa.Schema, text: bytes | None = None
) -> tuple[pa.Table, list[int]]:
    """lines[i] for i in `indices` (each one JSON object without a line break) parsed by pyarrow with the
    explicit `schema` (other fields ignored), with their INDEX; and the indices of lines in chunks pyarrow
    rejected (a rejected chunk is halved down to MIN_CHUNK lines). `text`: those lines already joined."""
    tables: list[pa.Table] = []
    rejected: list[int] = []
    pending = [indices] if indices else []
    while pending:
        chunk = pending.pop()
        if text is None or len(chunk) < len(indices):
            text = b"\n".join(lines[i] for i in chunk)
        try:
            table = pj.read_json(
                io.BytesIO(text),
                read_options=pj.ReadOptions(block_size=1 << 22),
                parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
            )
            if table.num_rows != len(chunk):  # e.g. two JSON objects in one line
                raise pa.ArrowInvalid(f"{table.num_rows} rows from {len(chunk)} lines")
        except (pa.ArrowException, ValueError):
            if len(chunk) <= MIN_CHUNK:
                rejected += chunk
            else:
                pending += [chunk[len(chunk) // 2 :], chunk[: len(chunk) // 2]]
            continue
        tables.append(table.append_column(INDEX, pa.array(chunk, pa.int64())))
    schema = schema.append(pa.field(INDEX, pa.int64()))
    return (pa.concat_tables(tables) if tables else schema.empty_table()), rejected


def _vectorized_checks(events: EventSchema, table: pa.Table) -> pa.ChunkedArray:
    """Per parsed row: would `decode` accept it without complaint (beyond the types pyarrow checked)?"""
    payload = table.column(events.payload)
    game, row = (pc.struct_field(payload, f) for f in events.id_fields)
    expected_id = pc.binary_join_element_wise(pc.cast(game, pa.string()), pc.cast(row, pa.string()), ":")
    ok = pc.and_(pc.equal(table.column("schema"), events.schema), pc.is_valid(table.column("sent_at")))
    ok = pc.and_(ok, pc.equal(table.column("event_id"), expected_id))
    ok = pc.and_(ok, pc.is_valid(payload))
    for name in events.required:
        ok = pc.and_(ok, pc.is_valid(pc.struct_field(payload, name)))
    if events.batch_check is not None:
        ok = pc.and_(ok, events.batch_check(pa.Table.from_struct_array(payload.combine_chunks())))
    return pc.fill_null(ok, False)


def _rows(events: EventSchema, row_schema: pa.Schema, table: pa.Table) -> pa.Table:
    """The decoded rows of parsed events: payload columns with the schema's defaults, then the envelope's."""
    payload = pa.Table.from_struct_array(table.column(events.payload).combine_chunks())
    columns = [table.column(INDEX)]
    for field in row_schema:
        column = payload.column(field.name)
        if field.name in events.defaults:
            column = pc.fill_null(column, pa.scalar(events.defaults[field.name], field.type))
        columns.append(column)
    columns += [table.column("event_time"), table.column("sent_at")]
    return pa.Table.from_arrays(columns, schema=row_columns_schema(row_schema))


def decoded_row(events: EventSchema, index: int, event: dict) -> dict:
    """A decoded event (`decode`) as a row of `row_columns_schema`."""
    return {
        INDEX: index,
        **event[events.payload],
        "event_time": event["event_time"],
        "sent_at": event["sent_at"],
    }


def _decode_one_by_one(
    events: EventSchema, row_schema: pa.Schema, values: Sequence[bytes | None], indices: list[int]
) -> tuple[pa.Table, dict[int, str]]:
    """`events.decode` for each of values[indices]; a value that does not fit its column type is rejected."""
    schema = row_columns_schema(row_schema)
    rows: list[dict] = []
    rejected: dict[int, str] = {}
    for i in indices:
        try:
            event = events.decode(values[i])
        except InvalidEvent as error:
            rejected[i] = str(error)
            continue
        rows.append(decoded_row(events, i, event))
    try:
        return pa.Table.from_pylist(rows, schema=schema), rejected
    except (pa.ArrowInvalid, OverflowError):  # find the rows that do not fit
        fits = []
        for row in rows:
            try:
                fits.append(pa.Table.from_pylist([row], schema=schema))
            except (pa.ArrowInvalid, OverflowError) as error:
                rejected[row[INDEX]] = f"value out of range for its column ({error})"
        return pa.concat_tables([schema.empty_table(), *fits]), rejected
