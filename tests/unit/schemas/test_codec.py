import io
import json
import struct

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from schemas.codec import AVRO_DIR, AvroCodec, DecodeError, load_schema, schema_fingerprint
from schemas.events import decode_query, encode_query
from tests.support.events import QUERY

# Pinned: a change here breaks every consumer that reads our topics.
QUERY_BYTES = bytes.fromhex(
    "c3019ff5957beab81a8406722d3180d89da9c26806752d37020861636d650670726f020875736572044869"
    "000200028001001c6d6f626975732e7265706c696573020661707002780000"
)


def _crc64_avro(data: bytes) -> int:
    """The Avro specification's reference CRC-64-AVRO, written out independently of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_query_event_encodes_to_the_pinned_bytes() -> None:
    assert encode_query(QUERY) == QUERY_BYTES
    assert decode_query(QUERY_BYTES) == QUERY


def test_frame_is_avro_single_object_encoding_by_the_spec() -> None:
    schema = load_schema("query_event")
    canonical = to_parsing_canonical_form(schema).encode()
    assert QUERY_BYTES[:2] == b"\xc3\x01"
    assert QUERY_BYTES[2:10] == struct.pack("<Q", _crc64_avro(canonical))
    # Any Avro reader with the .avsc reads the body after the 10-byte header.
    raw = json.loads((AVRO_DIR / "query_event.avsc").read_text())
    body = schemaless_reader(io.BytesIO(QUERY_BYTES[10:]), parse_schema(raw), None)
    assert body["request_id"] == "r-1" and body["messages"] == [{"role": "user", "content": "Hi"}]


def test_confluent_frame_is_accepted_for_a_registered_id() -> None:
    codec = AvroCodec.named("query_event")
    codec.register_writer(codec.schema, confluent_id=42)
    framed = b"\x00" + struct.pack(">I", 42) + QUERY_BYTES[10:]
    assert codec.decode(framed)["user_id"] == "u-7"
    with pytest.raises(DecodeError, match="unknown Confluent schema id 7"):
        codec.decode(b"\x00" + struct.pack(">I", 7) + QUERY_BYTES[10:])


def _v2_schema() -> dict[str, object]:
    raw = json.loads((AVRO_DIR / "query_event.avsc").read_text())
    raw["fields"].append({"name": "priority", "type": "int", "default": 5})
    parsed = parse_schema(raw)
    assert isinstance(parsed, dict)
    return parsed


def test_evolution_old_writer_new_reader_gets_the_default() -> None:
    v2 = AvroCodec(_v2_schema())  # type: ignore[arg-type]
    v2.register_writer(load_schema("query_event"))
    assert v2.decode(QUERY_BYTES)["priority"] == 5


def test_evolution_new_writer_old_reader_ignores_the_new_field() -> None:
    v2_schema = _v2_schema()
    record = {**QUERY.model_dump(), "priority": 1}
    buffer = io.BytesIO()
    schemaless_writer(buffer, v2_schema, record)
    framed = b"\xc3\x01" + schema_fingerprint(v2_schema) + buffer.getvalue()  # type: ignore[arg-type]
    v1 = AvroCodec.named("query_event")
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        v1.decode(framed)  # a reader must be told the writer's schema...
    v1.register_writer(v2_schema)  # type: ignore[arg-type]
    decoded = v1.decode(framed)  # ...then resolves it against its own
    assert "priority" not in decoded and decoded["request_id"] == "r-1"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "bad magic"),
        (b"\xc3\x01\x00\x00", "bad magic"),
        (QUERY_BYTES[:-3], "corrupt"),
        (QUERY_BYTES + b"\x00\x00", "trailing bytes"),
        (b"\xc3\x01" + b"\x11" * 8 + QUERY_BYTES[10:], "unknown schema fingerprint"),
    ],
    ids=["empty", "short-header", "truncated", "trailing", "foreign-fingerprint"],
)
def test_bad_bytes_are_decode_errors_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        AvroCodec.named("query_event").decode(data)
