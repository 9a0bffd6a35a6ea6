import io
import json
import struct

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from schemas.codec import AVRO_DIR, AvroCodec, DecodeError, load_schema, schema_fingerprint
from schemas.events import (
    CompletionRecord,
    ReplyEvent,
    decode_completion,
    decode_query,
    decode_reply,
    encode_completion,
    encode_query,
    encode_reply,
)
from tests.support.events import QUERY

# Pinned: a change here breaks every consumer that reads our topics.
QUERY_BYTES = bytes.fromhex(
    "c3017c4671e0aaebe64506722d3180d89da9c26806752d37020861636d650670726f020875736572044869"
    "000200028001001c6d6f626975732e7265706c69657302066170700278000000"
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


def _written_with(path: str, record: dict[str, object]) -> bytes:
    schema = parse_schema(json.loads((AVRO_DIR / path).read_text()))
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, record)  # type: ignore[arg-type]
    return b"\xc3\x01" + schema_fingerprint(schema) + buffer.getvalue()  # type: ignore[arg-type]


def test_completion_records_written_before_the_explanations_still_decode() -> None:
    """A record from a worker of the previous release (v2: no route_cause, no probabilities),
    still on the topic at an upgrade, reaches the sink with the new fields' defaults."""
    record = {**_completion().model_dump()}
    for field in ("route_cause", "p_simple", "p_complex", "p_code", "p_long_context"):
        record.pop(field)
    decoded = decode_completion(_written_with("history/completion_record.v2.avsc", record))
    assert (decoded.request_id, decoded.route_cause, decoded.p_complex) == ("r-9", "", 0.0)


def test_an_older_reader_of_completion_records_ignores_the_explanations() -> None:
    v2 = AvroCodec(parse_schema(json.loads((AVRO_DIR / "history/completion_record.v2.avsc").read_text())))  # type: ignore[arg-type]
    v2.register_writer(load_schema("completion_record"))
    decoded = v2.decode(encode_completion(_completion()))
    assert decoded["request_id"] == "r-9" and "p_complex" not in decoded


def _completion() -> CompletionRecord:
    return CompletionRecord(
        request_id="r-9",
        user_id="u",
        tier="pro",
        query_type="complex",
        complexity=0.9,
        model_group="smart",
        status="ok",
        worker_id="w",
        created_at=QUERY.created_at,
        completed_at=QUERY.created_at,
        route_cause="model",
        p_complex=0.9,
    )


def test_replies_and_records_written_before_trace_ids_still_decode_with_none() -> None:
    reply = {**ReplyEvent(request_id="r-1", status="ok", answered_at=QUERY.created_at).model_dump()}
    reply.pop("trace_id")
    assert decode_reply(_written_with("history/reply_event.v2.avsc", reply)).trace_id == ""
    record = {**_completion().model_dump()}
    record.pop("trace_id")
    assert decode_completion(_written_with("history/completion_record.v3.avsc", record)).trace_id == ""


def test_an_older_reader_ignores_the_trace_id() -> None:
    traced = "4bf92f3577b34da6a3ce929d0e0e4736"
    for name, path, encoded in (
        (
            "reply_event",
            "history/reply_event.v2.avsc",
            encode_reply(
                ReplyEvent(request_id="r-1", status="ok", answered_at=QUERY.created_at, trace_id=traced)
            ),
        ),
        (
            "completion_record",
            "history/completion_record.v3.avsc",
            encode_completion(_completion().model_copy(update={"trace_id": traced})),
        ),
    ):
        older = AvroCodec(parse_schema(json.loads((AVRO_DIR / path).read_text())))  # type: ignore[arg-type]
        older.register_writer(load_schema(name))
        decoded = older.decode(encoded)
        assert decoded["request_id"] in ("r-1", "r-9") and "trace_id" not in decoded
    assert (
        decode_reply(
            encode_reply(
                ReplyEvent(request_id="r", status="ok", answered_at=QUERY.created_at, trace_id=traced)
            )
        ).trace_id
        == traced
    )
