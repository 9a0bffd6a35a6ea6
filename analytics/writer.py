"""The ClickHouse side of the sink: one idempotent insert per batch, each request counted once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from analytics.clickhouse import ClickHouseUnavailable
from analytics.rows import COLUMNS

_REQUEST_ID = COLUMNS.index("request_id")


class RowWriter(Protocol):
    """Where the sink's batches go (ClickHouse, or a test's stand-in)."""

    def write(self, rows: Sequence[Sequence[Any]], token: str) -> None:
        """Insert rows; the same token with the same rows must not insert them twice."""


class CompletionsWriter:
    """Inserts completion rows, skipping request ids the table (or the batch) already holds.

    A worker that dies after publishing a query's records but before committing its offset makes
    the next owner re-send the same records (from the reply store): the same request id with the
    same created_at. Dropping those here, before the insert, keeps both the table and the rollup
    views (which see inserts, not merges) at one row per request.
    """

    def __init__(self, client: Client, table: str = "completions", ids_table: str = "completion_ids") -> None:
        self.client = client
        self.table = table
        self.ids_table = ids_table  # kept by a materialized view of `table`, sorted by request id
        self.duplicates_skipped = 0

    def write(self, rows: Sequence[Sequence[Any]], token: str) -> None:
        settings = {
            "insert_deduplication_token": token,
            # The rollup views see the same token, so a retried batch is not counted twice there.
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }
        try:
            fresh = self._unseen(rows)
            if fresh:
                self.client.insert(self.table, fresh, column_names=list(COLUMNS), settings=settings)
        except (ClickHouseError, OSError) as exc:
            raise ClickHouseUnavailable(f"insert into {self.table} failed: {exc}") from exc
        self.duplicates_skipped += len(rows) - len(fresh)

    def _unseen(self, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        first: dict[str, Sequence[Any]] = {}
        for row in rows:
            first.setdefault(row[_REQUEST_ID], row)
        if not first:
            return []
        known = self.client.query(
            f"SELECT DISTINCT request_id FROM {self.ids_table} "  # noqa: S608 - our own table name
            "WHERE request_id IN {ids:Array(String)}",
            parameters={"ids": list(first)},
        )
        seen = {row[0] for row in known.result_rows}
        return [row for request_id, row in first.items() if request_id not in seen]
