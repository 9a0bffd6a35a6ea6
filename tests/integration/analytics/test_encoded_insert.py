"""The Avro path writes exactly the rows the per-record path writes (real embedded engine)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import fastavro
import pytest
from clickhouse_connect.driver.client import Client

from analytics.encoded import read_encoded
from analytics.rows import COLUMNS, completion_row
from analytics.writer import CompletionsWriter, RejectedBatch
from schemas.codec import AVRO_DIR, AvroCodec
from schemas.events import COMPLETION_CODEC, CompletionRecord, decode_completion, encode_completion
from tests.support.analytics import record


def _encoded_with(version: int, completion: CompletionRecord) -> bytes:
    schema = fastavro.parse_schema(
        json.loads((AVRO_DIR / f"history/completion_record.v{version}.avsc").read_text())
    )
    assert isinstance(schema, dict)
    fields = {field["name"] for field in schema["fields"]}
    return AvroCodec(schema).encode({k: v for k, v in completion.model_dump().items() if k in fields})


def _varied() -> list[bytes]:
    """Every writer schema version, nulls and empty lists, non-ASCII text, both statuses."""
    values = [encode_completion(record(i, cost=10**12 + i)) for i in range(20)]
    values.append(
        encode_completion(
            record(20, cost=0).model_copy(
                update={
                    "org_id": None,
                    "model": None,
                    "provider": None,
                    "error_code": "context_window",
                    "status": "error",
                    "attempted_models": (),
                    "user_id": "usér-ünïcode ✓",
                    "budget_downgraded": True,
                    "cache_hit": True,
                    "trace_id": "0af7651916cd43dd8448eb211c80319c",
                    "complexity": 0.123456789,
                }
            )
        )
    )
    values += [_encoded_with(v, record(30 + v, cost=7 * v)) for v in (1, 2, 3)]
    return values


def _table(client: Client) -> list[tuple[object, ...]]:
    columns = ", ".join(COLUMNS)
    return list(client.query(f"SELECT {columns} FROM completions ORDER BY request_id").result_rows)


def _rollup(client: Client) -> list[tuple[object, ...]]:
    return list(
        client.query(
            "SELECT minute, model, tier, query_type, sum(requests), sum(errors), sum(cost_nano_usd) "
            "FROM completions_by_minute GROUP BY ALL ORDER BY ALL"
        ).result_rows
    )


def test_the_avro_path_writes_the_same_rows_as_the_per_record_path(
    database: Client, second_database: Client
) -> None:
    values = _varied()
    CompletionsWriter(database).write([completion_row(decode_completion(v)) for v in values], "t1")
    CompletionsWriter(second_database).write_encoded(
        [read_encoded(0, i, 0, None, v) for i, v in enumerate(values)], "t1"
    )
    per_record, avro = _table(database), _table(second_database)
    assert len(per_record) == len(values)
    assert avro == per_record  # every column, every row
    assert _rollup(second_database) == _rollup(database)


def test_the_avro_path_skips_known_and_repeated_request_ids_and_a_retried_token(database: Client) -> None:
    writer = CompletionsWriter(database)
    values = [encode_completion(record(i, cost=1)) for i in range(10)]
    encoded = [read_encoded(0, i, 0, None, v) for i, v in enumerate(values)]
    writer.write_encoded(encoded[:6], "a")
    writer.write_encoded(encoded[:6], "a")  # a retried batch
    writer.write_encoded(encoded + encoded[8:], "b")  # some seen before, two twice in the batch
    assert database.query("SELECT count(), uniqExact(request_id) FROM completions").result_rows == [(10, 10)]
    assert writer.duplicates_skipped == 6 + 6 + 2


def test_a_fallback_count_beyond_uint16_lands_unchanged(database: Client) -> None:
    """Migration 011 widened the column: 70,000 once landed as 70,000 mod 2^16."""
    value = COMPLETION_CODEC.encode({**record(1, cost=1).model_dump(), "fallback_count": 70_000})
    CompletionsWriter(database).write_encoded([read_encoded(0, 0, 0, None, value)], "t")
    assert database.query("SELECT fallback_count FROM completions").result_rows == [(70_000,)]


@pytest.mark.parametrize(
    "bad",
    [
        COMPLETION_CODEC.encode(
            {**record(99, cost=1).model_dump(), "status": "weird"}
        ),  # the model's Literal
        COMPLETION_CODEC.encode({**record(99, cost=1).model_dump(), "user_id": "x"}).replace(
            b"\x02x", b"\x02\xff"
        ),
        encode_completion(record(99, cost=1)) + b"\x00",  # trailing bytes after the last record
        # Values ClickHouse's Avro input would wrap (2^32 - 1, 2^16 - 1) or whose TTL would wrap:
        COMPLETION_CODEC.encode({**record(99, cost=1).model_dump(), "prompt_tokens": -1}),
        COMPLETION_CODEC.encode({**record(99, cost=1).model_dump(), "fallback_count": -1}),
        COMPLETION_CODEC.encode({**record(99, cost=1).model_dump(), "cost_nano_usd": -5}),
        COMPLETION_CODEC.encode(
            {**record(99, cost=1).model_dump(), "created_at": datetime(2200, 1, 1, tzinfo=UTC)}
        ),
        COMPLETION_CODEC.encode(
            {**record(99, cost=1).model_dump(), "completed_at": datetime(1969, 1, 1, tzinfo=UTC)}
        ),
    ],
    ids=[
        "status",
        "utf8",
        "trailing",
        "negative-int",
        "negative-uint16",
        "negative-long",
        "year-2200",
        "year-1969",
    ],
)
def test_a_batch_with_a_record_the_model_refuses_is_refused_whole(database: Client, bad: bytes) -> None:
    values = [encode_completion(record(i, cost=1)) for i in range(5)] + [bad]
    with pytest.raises(RejectedBatch):
        CompletionsWriter(database).write_encoded(
            [read_encoded(0, i, 0, None, v) for i, v in enumerate(values)], "t"
        )
    assert database.query("SELECT count() FROM completions").result_rows == [(0,)]


def test_request_ids_with_tabs_newlines_and_backslashes_are_looked_up_exactly(database: Client) -> None:
    odd = ["a\tb", "c\nd", "e\\f", "e\\\\f", "plain"]
    values = [
        COMPLETION_CODEC.encode({**record(i, cost=1).model_dump(), "request_id": r})
        for i, r in enumerate(odd)
    ]
    writer = CompletionsWriter(database)
    writer.write_encoded([read_encoded(0, i, 0, None, v) for i, v in enumerate(values[:3])], "o1")
    writer.write_encoded([read_encoded(0, 10 + i, 0, None, v) for i, v in enumerate(values)], "o2")
    assert sorted(r for (r,) in database.query("SELECT request_id FROM completions").result_rows) == sorted(
        odd
    )
    assert writer.duplicates_skipped == 3
