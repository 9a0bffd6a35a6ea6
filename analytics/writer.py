"""The ClickHouse side of the sink: one idempotent insert per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from analytics.clickhouse import ClickHouseUnavailable
from analytics.rows import COLUMNS


class RowWriter(Protocol):
    def write(self, rows: Sequence[Sequence[Any]], token: str) -> None:
        """Insert rows; the same token with the same rows must not insert them twice."""


class CompletionsWriter:
    def __init__(self, client: Client, table: str = "completions") -> None:
        self.client = client
        self.table = table

    def write(self, rows: Sequence[Sequence[Any]], token: str) -> None:
        settings = {
            "insert_deduplication_token": token,
            # The rollup views see the same token, so a retried batch is not counted twice there.
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }
        try:
            self.client.insert(self.table, list(rows), column_names=list(COLUMNS), settings=settings)
        except (ClickHouseError, OSError) as exc:
            raise ClickHouseUnavailable(f"insert into {self.table} failed: {exc}") from exc
