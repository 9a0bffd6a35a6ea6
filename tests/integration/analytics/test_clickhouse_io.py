"""ClickHouse through clickhouse-connect on the chDB DSN: the same client code a server uses."""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from clickhouse_connect.driver.client import Client

from analytics.clickhouse import connect, server_version
from streams.settings import MobiusSettings


@pytest.fixture
def database(stack_settings: MobiusSettings, unique: str) -> Iterator[tuple[Client, str]]:
    client = connect(stack_settings.clickhouse_dsn)
    name = f"test_{unique}"
    client.command(f"CREATE DATABASE {name}")
    try:
        yield client, name
    finally:
        client.command(f"DROP DATABASE {name}")
        client.close()


def test_create_insert_select(database: tuple[Client, str]) -> None:
    client, db = database
    assert server_version(client).split(".")[0] >= "24"
    client.command(
        f"CREATE TABLE {db}.t (id String, at DateTime64(3, 'UTC'), model LowCardinality(String),"
        " cost_nano_usd UInt64, cost Decimal(18, 9)) ENGINE = MergeTree ORDER BY (model, at)"
    )
    at = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
    rows = [
        [f"r{i}", at, "gpt-4o-mini" if i % 2 else "claude-haiku-4-5", 150 * i, Decimal("0.00000015") * i]
        for i in range(1, 1001)
    ]
    client.insert(f"{db}.t", rows, column_names=["id", "at", "model", "cost_nano_usd", "cost"])
    result = client.query(
        f"SELECT model, count(), sum(cost_nano_usd), sum(cost), min(at) FROM {db}.t"
        " GROUP BY model ORDER BY model"
    ).result_rows
    odd = sum(150 * i for i in range(1, 1001, 2))
    even = sum(150 * i for i in range(2, 1001, 2))
    assert result[0][:4] == ("claude-haiku-4-5", 500, even, Decimal(even) / Decimal(10**9))
    assert result[1][:4] == ("gpt-4o-mini", 500, odd, Decimal(odd) / Decimal(10**9))
    assert result[1][4] == datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
