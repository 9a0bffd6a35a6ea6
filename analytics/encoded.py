"""Completion records kept as their Avro bytes, and the container files ClickHouse reads them from
(pure: no Kafka, no ClickHouse).

Decoding each record in Python (fastavro, then pydantic, then a row) costs ~20 us a record, which
caps the sink near 25k rows/s. ClickHouse reads Avro itself, so the sink keeps each record's body as
it came, reads only what it needs before the insert (the frame names the writer schema; the first
field, a string in every version of CompletionRecord, is the request id the duplicate look-up needs)
and hands ClickHouse one Avro Object Container File per writer schema: the schema's header, then a
single data block holding the bodies back to back.

Every field of CompletionRecord maps onto the `completions` column of the same name with no change
(a null union lands as the column's '' through `input_format_null_as_default`, on by default), and
a column an older writer schema lacks takes the table's DEFAULT, the same value the record model's
default gives: so the rows are those analytics/rows.py builds from the decoded record.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import NamedTuple

from fastavro import writer as container_writer

from analytics.rows import COLUMNS
from schemas.codec import SINGLE_OBJECT_HEADER, SINGLE_OBJECT_MAGIC, DecodeError, Schema, schema_fingerprint
from schemas.events import COMPLETION_CODEC

SYNC_MARKER = b"mobius-analytics"  # 16 bytes; any fixed value will do within one file
_MAX_VARINT_BYTES = 10
_LOW_BITS = 0x7F  # a varint byte's payload
_MORE = 0x80  # set on every varint byte but the last


class EncodedCompletion(NamedTuple):
    """One Kafka record of the completions topic, not decoded: where it came from and its body.

    A named tuple, not a frozen dataclass: the sink makes one per record, and a frozen dataclass's
    __init__ (one object.__setattr__ a field) cost ~1.5 us of the ~10 us a row 100k rows/s allows."""

    partition: int
    offset: int
    timestamp_ms: int  # the Kafka record's timestamp: the producer's send time
    key: bytes | None
    value: bytes  # the whole record, frame included (what a dead letter carries)
    request_id: str
    writer: bytes  # the writer schema's fingerprint
    body_start: int  # where the Avro binary body starts in `value`, after the frame

    @property
    def body(self) -> bytes:
        """The Avro binary body: sliced when the container file is built, not for every record."""
        return self.value[self.body_start :]


@dataclass(frozen=True)
class WriterSchema:
    """A CompletionRecord writer schema and the `completions` columns its fields fill."""

    fingerprint: bytes
    schema: Schema
    columns: tuple[str, ...]
    header: bytes  # the container file's header for this schema, ending in SYNC_MARKER


def writer_schema(schema: Schema) -> WriterSchema:
    fields = {field["name"] for field in schema["fields"]}
    missing = fields - set(COLUMNS)
    if missing:  # ClickHouse would ignore them; a new field needs its column (and a migration) first
        raise ValueError(f"{schema['name']} has fields without a completions column: {sorted(missing)}")
    header = io.BytesIO()
    container_writer(header, schema, [], sync_marker=SYNC_MARKER)
    return WriterSchema(
        fingerprint=schema_fingerprint(schema),
        schema=schema,
        columns=tuple(column for column in COLUMNS if column in fields),
        header=header.getvalue(),
    )


_WRITERS: dict[bytes, WriterSchema] = {}


def writer_schema_of(fingerprint: bytes) -> WriterSchema:
    """The (cached) container file layout of a writer schema the completion codec knows."""
    known = _WRITERS.get(fingerprint)
    if known is None:
        known = _WRITERS[fingerprint] = writer_schema(COMPLETION_CODEC.writer_schema(fingerprint))
    return known


def read_encoded(
    partition: int, offset: int, timestamp_ms: int, key: bytes | None, value: bytes
) -> EncodedCompletion:
    """A record's frame and request id, read without decoding the rest; DecodeError when the frame
    names no known CompletionRecord schema or the body does not start with a string."""
    fingerprint, body_start = _frame(value)
    request_id, _ = read_string(value, body_start)
    return EncodedCompletion(partition, offset, timestamp_ms, key, value, request_id, fingerprint, body_start)


def _frame(value: bytes) -> tuple[bytes, int]:
    """The writer's fingerprint and where the body starts. The frame this code base writes, naming
    a schema already seen, is read here; any other goes to the codec (which knows every frame)."""
    if value[:2] == SINGLE_OBJECT_MAGIC:
        fingerprint = value[2:SINGLE_OBJECT_HEADER]
        if fingerprint in _FRAMED:
            return fingerprint, SINGLE_OBJECT_HEADER
    fingerprint, body = COMPLETION_CODEC.writer_of(value)
    if value[:2] == SINGLE_OBJECT_MAGIC:
        _FRAMED.add(fingerprint)
    return fingerprint, len(value) - len(body)


_FRAMED: set[bytes] = set()  # single-object fingerprints the codec accepted (a few schema versions)


def read_long(data: bytes, position: int) -> tuple[int, int]:
    """An Avro long (zig-zag varint) at `position`: its value and the position after it."""
    if position < len(data) and (byte := data[position]) < _MORE:  # one byte: a string under 64 bytes
        return (byte >> 1) ^ -(byte & 1), position + 1
    accumulated = shift = 0
    for index in range(position, min(len(data), position + _MAX_VARINT_BYTES)):
        byte = data[index]
        accumulated |= (byte & _LOW_BITS) << shift
        if not byte & _MORE:
            return (accumulated >> 1) ^ -(accumulated & 1), index + 1
        shift += 7
    raise DecodeError("truncated or overlong varint")


def read_string(data: bytes, position: int) -> tuple[str, int]:
    """An Avro string at `position`: its text and the position after it."""
    length, start = read_long(data, position)
    end = start + length
    if length < 0 or end > len(data):
        raise DecodeError(f"corrupt Avro body: a string of length {length} at byte {position}")
    try:
        return data[start:end].decode(), end
    except UnicodeDecodeError as exc:
        raise DecodeError(f"corrupt Avro body: the request id is not UTF-8: {exc}") from exc


def write_long(value: int) -> bytes:
    """An Avro long: zig-zag, then 7 bits a byte, low bits first."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag > _LOW_BITS:
        out.append((zigzag & _LOW_BITS) | _MORE)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def container_file(writer: WriterSchema, bodies: list[bytes]) -> bytes:
    """An Avro Object Container File: the header, then one block (count, byte size, the bodies
    back to back, the sync marker)."""
    payload = b"".join(bodies)
    return b"".join((writer.header, write_long(len(bodies)), write_long(len(payload)), payload, SYNC_MARKER))


def by_writer(records: list[EncodedCompletion]) -> list[tuple[WriterSchema, list[EncodedCompletion]]]:
    """The records grouped by writer schema, in order of first appearance (so, deterministic)."""
    groups: dict[bytes, list[EncodedCompletion]] = {}
    for record in records:
        groups.setdefault(record.writer, []).append(record)
    return [(writer_schema_of(fingerprint), group) for fingerprint, group in groups.items()]


def group_token(token: str, writer: WriterSchema) -> str:
    """One insert per writer schema, each with its own deduplication token (ClickHouse drops a
    second insert under a token it has seen, whatever its rows); the current schema keeps the
    batch's own token, so the common one-schema batch is named exactly as before."""
    if writer.fingerprint == COMPLETION_CODEC.fingerprint:
        return token
    return f"{token}-{writer.fingerprint.hex()}"


def fallback_token(token: str) -> str:
    """The token of a batch's per-record insert after ClickHouse refused its container files: a
    container insert of the same batch may have landed under `token` (one of several schemas)."""
    return f"{token}-rows"


def oldest_timestamp_ms(records: list[EncodedCompletion]) -> int | None:
    return min((r.timestamp_ms for r in records), default=None)
