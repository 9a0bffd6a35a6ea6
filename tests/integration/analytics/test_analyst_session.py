"""The analyst session on the real engine: ClickHouse itself refuses writes, DDL, setting changes
and outside table functions even when the statement check is bypassed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from analytics.query import QueryFailed, open_analyst_session, run_query
from analytics.rows import COLUMNS, completion_row
from mobius.settings import MobiusSettings
from tests.support.analytics import record


@pytest.fixture
def analyst(stack_settings: MobiusSettings, database: Client) -> Iterator[Client]:
    database.insert(
        "completions", [completion_row(record(i, cost=100)) for i in range(5)], column_names=list(COLUMNS)
    )
    session = open_analyst_session(stack_settings.clickhouse_dsn, database=database.database)
    try:
        yield session
    finally:
        session.close()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO completions SELECT * FROM completions",
        "CREATE TABLE stolen (a UInt8) ENGINE = Memory",
        "DROP TABLE completions",
        "SELECT * FROM file('/etc/hostname', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')",
        "SELECT * FROM remote('127.0.0.1', system.one)",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT 1 SETTINGS max_result_rows = 0",
    ],
)
def test_the_engine_refuses_what_the_check_would(analyst: Client, sql: str) -> None:
    with pytest.raises(QueryFailed, match="readonly"):
        run_query(analyst, sql)  # the statement check is skipped on purpose


def test_limits_hold_and_data_is_untouched(analyst: Client, database: Client) -> None:
    with pytest.raises(QueryFailed, match=r"TOO_MANY_ROWS|Limit for result"):
        run_query(analyst, "SELECT number FROM system.numbers LIMIT 2000000")
    assert run_query(database, "SELECT count() FROM completions").rows == ((5,),)
