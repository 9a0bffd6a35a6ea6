import io
import json

import fastavro
import pytest

from analytics.encoded import (
    by_writer,
    container_file,
    group_token,
    read_encoded,
    read_long,
    write_long,
    writer_schema_of,
)
from schemas.codec import AVRO_DIR, AvroCodec, DecodeError
from schemas.events import COMPLETION_CODEC, encode_completion
from tests.support.analytics import record


def _v1_codec() -> AvroCodec:
    return AvroCodec(
        fastavro.parse_schema(json.loads((AVRO_DIR / "history/completion_record.v1.avsc").read_text()))
    )


@pytest.mark.parametrize("value", [0, 1, -1, 63, -64, 64, 300, -300, 2**31, -(2**63), 2**63 - 1])
def test_avro_longs_round_trip_as_fastavro_writes_them(value: int) -> None:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, "long", value)
    assert write_long(value) == buffer.getvalue()
    assert read_long(buffer.getvalue() + b"rest", 0) == (value, len(buffer.getvalue()))


def test_the_request_id_and_writer_are_read_without_decoding_the_rest() -> None:
    value = encode_completion(record(7, cost=1))
    encoded = read_encoded(2, 40, 1234, b"k", value)
    assert (encoded.request_id, encoded.partition, encoded.offset, encoded.timestamp_ms) == (
        "req-7",
        2,
        40,
        1234,
    )
    assert encoded.writer == COMPLETION_CODEC.fingerprint and encoded.body == value[10:]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not a record", "bad magic"),
        (b"\xc3\x01" + b"\x00" * 8 + b"\x02a", "unknown schema fingerprint"),
        (b"\xc3\x01" + COMPLETION_CODEC.fingerprint + b"\x10ab", "a string of length 8"),
        (b"\xc3\x01" + COMPLETION_CODEC.fingerprint + b"\x04\xff\xfe", "not UTF-8"),
        (b"\xc3\x01" + COMPLETION_CODEC.fingerprint + b"\xff" * 11, "varint"),
    ],
)
def test_a_bad_frame_or_request_id_is_a_decode_error_with_the_reason(value: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        read_encoded(0, 0, 0, None, value)


def test_a_container_file_per_writer_schema_reads_back_as_the_records() -> None:
    current = [encode_completion(record(i, cost=i)) for i in range(3)]
    old = _v1_codec().encode(
        {
            k: v
            for k, v in record(9, cost=9).model_dump().items()
            if k in {f["name"] for f in _v1_codec().schema["fields"]}
        }
    )
    records = [read_encoded(0, i, 0, None, v) for i, v in enumerate([current[0], old, *current[1:]])]
    groups = by_writer(records)
    assert [len(group) for _, group in groups] == [3, 1]  # in order of first appearance
    (now, now_group), (then, then_group) = groups
    assert "budget_downgraded" in now.columns and "budget_downgraded" not in then.columns
    read = list(fastavro.reader(io.BytesIO(container_file(now, [r.body for r in now_group]))))
    assert [r["request_id"] for r in read] == ["req-0", "req-1", "req-2"]
    assert read == [COMPLETION_CODEC.decode(v) for v in current]
    assert [
        r["request_id"] for r in fastavro.reader(io.BytesIO(container_file(then, [then_group[0].body])))
    ] == ["req-9"]
    # Each schema's insert has its own token; the current schema keeps the batch's.
    assert group_token("t", now) == "t" and group_token("t", then) != "t"
    assert writer_schema_of(then.fingerprint) is then
