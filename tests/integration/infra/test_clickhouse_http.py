"""clickhouse-connect's own HTTP client against the ClickHouse HTTP front (chDB behind it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from clickhouse_connect import get_client
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_connect.driver.external import ExternalData

from infra.clickhouse_http.launcher import ClickHouseHttp
from infra.ports import pick_free_port


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    front = ClickHouseHttp(pick_free_port(), tmp_path_factory.mktemp("front") / "clickhouse")
    front.start()
    try:
        client = get_client(dsn=front.dsn, tz_mode="aware")  # the default client: compressed inserts
        yield client
        client.close()
    finally:
        front.stop()


def test_the_client_connects_and_sees_the_engine(client: Client) -> None:
    assert client.server_version.startswith("26.")
    assert client.command("SELECT 1 + 1") == 2
    assert client.write_compression == "lz4"  # the front has to read what the client sends by default


def test_an_insert_repeated_with_its_token_adds_nothing(client: Client) -> None:
    client.command(
        "CREATE TABLE events (id String, at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY id "
        "SETTINGS non_replicated_deduplication_window = 100"
    )
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    rows = [[f"e{i}", at] for i in range(1000)]
    for _ in range(2):
        client.insert(
            "events", rows, column_names=["id", "at"], settings={"insert_deduplication_token": "batch-1"}
        )
    client.insert(
        "events", rows[:10], column_names=["id", "at"], settings={"insert_deduplication_token": "batch-2"}
    )
    assert client.query("SELECT count(), max(at) FROM events").result_rows == [(1010, at)]


def test_bound_parameters_and_errors_come_back_as_from_a_server(client: Client) -> None:
    found = client.query(
        "SELECT {ids:Array(String)} AS ids, {n:UInt32} + 1 AS n", parameters={"ids": ["a", "b'c"], "n": 41}
    )
    assert found.result_rows == [(["a", "b'c"], 42)]
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE") as raised:
        client.query("SELECT * FROM no_such_table")
    assert raised.value.code == 60


def test_external_data_is_a_table_for_its_query_only(client: Client) -> None:
    ids = ExternalData(file_name="wanted.tsv", data=b"a\nb\\tc\n", fmt="TSV", structure=["id String"])
    found = client.query("SELECT id FROM wanted ORDER BY id", external_data=ids)
    assert found.result_rows == [("a",), ("b\tc",)]
    typed = ExternalData(file_name="pairs.csv", data=b"1,x\n2,y\n", fmt="CSV", types=["UInt8", "String"])
    assert client.query("SELECT sum(_1), max(_2) FROM pairs", external_data=typed).result_rows == [(3, "y")]
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE"):
        client.query("SELECT * FROM wanted")
