"""The writer over HTTP, as it runs against a ClickHouse server (the HTTP front stands in for one):
its request-id look-up sends the ids as external data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from analytics.clickhouse import connect
from analytics.encoded import read_encoded
from analytics.migrations import apply_migrations
from analytics.writer import CompletionsWriter
from infra.clickhouse_http.launcher import ClickHouseHttp
from infra.ports import pick_free_port
from schemas.events import encode_completion
from tests.support.analytics import record


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    front = ClickHouseHttp(pick_free_port(), Path(tmp_path_factory.mktemp("front")) / "clickhouse")
    front.start()
    try:
        client = connect(front.dsn)
        apply_migrations(client, ttl_days=30)
        yield client
        client.close()
    finally:
        front.stop()


def test_known_and_repeated_ids_are_skipped_over_http(server: Client) -> None:
    writer = CompletionsWriter(server)
    assert not writer.embedded
    values = [encode_completion(record(i, cost=10)) for i in range(8)]
    writer.write_encoded([read_encoded(0, i, 0, None, v) for i, v in enumerate(values[:5])], "h1")
    again = [*values[3:], values[7]]  # 3 and 4 are in the table, 7 twice in the batch
    writer.write_encoded([read_encoded(0, 10 + i, 0, None, v) for i, v in enumerate(again)], "h2")
    assert server.query("SELECT count(), uniqExact(request_id) FROM completions").result_rows == [(8, 8)]
    assert writer.duplicates_skipped == 2 + 1
