"""How the ClickHouse HTTP front takes a request apart (what clickhouse-connect sends)."""

import gzip
import zlib

import lz4.frame  # type: ignore[import-untyped]
import pytest
from backports import zstd

from infra.clickhouse_http.request import BadRequest, decompress, parse_request

NATIVE = b"\x0a\x02\x01a\x06String\x01x\x01y"  # starts with a line feed, as Native data may


def test_an_insert_in_the_body_carries_its_data_after_the_statement_line() -> None:
    body = b"INSERT INTO completions (`a`, `b`) FORMAT Native\n" + NATIVE
    params = {
        "database": "db",
        "insert_deduplication_token": "t1",
        "session_id": "s",
        "wait_end_of_query": "1",
    }
    statement = parse_request(params, body)
    assert statement.sql == "INSERT INTO completions (`a`, `b`)"
    assert statement.data == NATIVE and statement.data_format == "Native"
    assert statement.settings == {"insert_deduplication_token": "t1"}  # transport parameters are no settings
    assert statement.database == "db"


def test_an_insert_in_the_query_parameter_takes_the_whole_body_as_data() -> None:
    statement = parse_request({"query": "INSERT INTO t FORMAT Native"}, NATIVE)
    assert (statement.sql, statement.data, statement.data_format) == ("INSERT INTO t", NATIVE, "Native")


def test_a_query_keeps_its_format_and_bound_parameters() -> None:
    body = b"SELECT request_id FROM completion_ids WHERE request_id IN {ids:Array(String)}\n FORMAT Native"
    statement = parse_request({"param_ids": "['a','b']", "date_time_input_format": "best_effort"}, body)
    assert statement.data is None and statement.output_format == "Native"
    assert statement.params == {"ids": "['a','b']"}
    assert statement.settings == {"date_time_input_format": "best_effort"}


def test_a_command_without_format_and_an_insert_with_values_are_plain_statements() -> None:
    assert parse_request({}, b"CREATE TABLE x (a String) ENGINE = Memory").output_format is None
    values = parse_request({"query": "INSERT INTO x VALUES"}, b"('a')")
    assert values.data is None and values.sql == "INSERT INTO x VALUES\n('a')"


def test_bad_requests_are_refused() -> None:
    with pytest.raises(BadRequest):
        parse_request({}, b"")
    with pytest.raises(BadRequest):
        parse_request({"max_threads; DROP": "1"}, b"SELECT 1")


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", zstd.compress),
        # clickhouse-connect sends one lz4 frame per block
        ("lz4", lambda data: lz4.frame.compress(data[:20]) + lz4.frame.compress(data[20:])),
    ],
)
def test_bodies_are_decompressed_as_the_client_compressed_them(encoding: str, encode: object) -> None:
    body = b"INSERT INTO t FORMAT Native\n" + NATIVE * 3
    assert decompress(encode(body), encoding) == body  # type: ignore[operator]
    assert decompress(body, None) == body
    with pytest.raises(BadRequest):
        decompress(body, "snappy")
