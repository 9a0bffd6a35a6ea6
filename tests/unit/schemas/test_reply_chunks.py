"""Streamed replies: the ReplyChunk contract, its kind told apart on the reply topic, and the
QueryEvent's `stream` field read both ways across versions."""

import io
import json

from fastavro import parse_schema, schemaless_writer

from schemas.codec import AVRO_DIR, AvroCodec, load_schema, schema_fingerprint
from schemas.events import (
    QUERY_CODEC,
    ReplyChunk,
    ReplyEvent,
    decode_query,
    decode_reply_record,
    encode_chunk,
    encode_query,
    encode_reply,
)
from tests.support.events import QUERY

CHUNK = ReplyChunk(request_id="r-1", stream_id="s-1", sequence=3, text="Paris ", sent_at=QUERY.created_at)
# Pinned: a change here breaks every streaming reader.
CHUNK_BYTES = (
    bytes.fromhex("c301")
    + schema_fingerprint(load_schema("reply_chunk"))
    + bytes.fromhex("06722d3106732d31060c506172697320" + "80d89da9c268")
)


def test_a_chunk_encodes_to_the_pinned_bytes_and_back() -> None:
    assert encode_chunk(CHUNK) == CHUNK_BYTES
    assert decode_reply_record(CHUNK_BYTES) == CHUNK


def test_a_reply_topic_reader_tells_chunks_from_replies_by_fingerprint() -> None:
    reply = ReplyEvent(request_id="r-1", status="ok", content="Paris", answered_at=QUERY.created_at)
    assert decode_reply_record(encode_reply(reply)) == reply
    assert isinstance(decode_reply_record(encode_chunk(CHUNK)), ReplyChunk)


def test_a_query_written_before_streaming_existed_is_not_streamed() -> None:
    v1 = parse_schema(json.loads((AVRO_DIR / "history/query_event.v1.avsc").read_text()))
    record = QUERY.model_dump()
    record.pop("stream")
    buffer = io.BytesIO()
    schemaless_writer(buffer, v1, record)  # type: ignore[arg-type]
    old = b"\xc3\x01" + schema_fingerprint(v1) + buffer.getvalue()  # type: ignore[arg-type]
    decoded = decode_query(old)
    assert decoded.stream is False and decoded.request_id == QUERY.request_id


def test_a_reader_of_the_previous_version_ignores_the_stream_flag() -> None:
    v1 = AvroCodec(parse_schema(json.loads((AVRO_DIR / "history/query_event.v1.avsc").read_text())))  # type: ignore[arg-type]
    v1.register_writer(QUERY_CODEC.schema)
    decoded = v1.decode(encode_query(QUERY.model_copy(update={"stream": True})))
    assert decoded["request_id"] == QUERY.request_id and "stream" not in decoded
