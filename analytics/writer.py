"""The ClickHouse side of the sink: one idempotent insert per batch, each request counted once.

A batch arrives as its records' Avro bodies (analytics/encoded.py) and goes in as one Avro
container file per writer schema, which ClickHouse decodes itself; a batch ClickHouse refuses
(a corrupt body, a value the table's constraints reject) raises RejectedBatch, and the sink
decodes it record by record instead (dead-lettering what does not decode) and writes rows.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError
from clickhouse_connect.driver.external import ExternalData
from pydantic import ValidationError

from analytics.clickhouse import ClickHouseUnavailable, runs_in_process
from analytics.encoded import EncodedCompletion, by_writer, container_file, group_token
from analytics.rows import COLUMNS
from schemas.codec import DecodeError
from schemas.events import decode_completion

_REQUEST_ID = COLUMNS.index("request_id")
T = TypeVar("T")


class RejectedBatch(Exception):
    """ClickHouse refused a batch's data (not its own unavailability); the message says why."""


class RowWriter(Protocol):
    """Where the sink's batches go (ClickHouse, or a test's stand-in)."""

    def write(self, rows: Sequence[Sequence[Any]], token: str) -> None:
        """Insert rows; the same token with the same rows must not insert them twice."""

    def write_encoded(self, records: Sequence[EncodedCompletion], token: str) -> None:
        """Insert records as their Avro bodies, with the same guarantee; RejectedBatch when
        ClickHouse refuses their data."""


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
        self.embedded = runs_in_process(client)
        self.duplicates_skipped = 0

    def write(self, rows: Sequence[Sequence[Any]], token: str) -> None:
        try:
            fresh = self._unseen(rows, lambda row: str(row[_REQUEST_ID]))
            if fresh:
                self.client.insert(self.table, fresh, column_names=list(COLUMNS), settings=_settings(token))
        except (ClickHouseError, OSError) as exc:
            raise ClickHouseUnavailable(f"insert into {self.table} failed: {exc}") from exc
        self.duplicates_skipped += len(rows) - len(fresh)

    def write_encoded(self, records: Sequence[EncodedCompletion], token: str) -> None:
        try:
            fresh = self._unseen(records, lambda record: record.request_id)
            groups = by_writer(fresh)
            for _, group in groups:
                _check_last_body(group[-1])
            for writer, group in groups:
                self.client.raw_insert(
                    self.table,
                    list(writer.columns),
                    container_file(writer, [record.body for record in group]),
                    settings=_settings(group_token(token, writer)),
                    fmt="Avro",
                )
        except (OperationalError, OSError) as exc:  # could not reach it: retried, as for rows
            raise ClickHouseUnavailable(f"insert into {self.table} failed: {exc}") from exc
        except ClickHouseError as exc:  # it answered, and said no
            raise RejectedBatch(f"ClickHouse refused the batch's Avro data: {exc}") from exc
        self.duplicates_skipped += len(records) - len(fresh)

    def _unseen(self, items: Sequence[T], request_id: Callable[[T], str]) -> list[T]:
        """The first item of each request id the ids table does not hold yet."""
        first: dict[str, T] = {}
        for item in items:
            first.setdefault(request_id(item), item)
        if not first:
            return []
        try:
            seen = self._known_ids(list(first))
        except (ClickHouseError, OSError) as exc:  # the look-up is no data of the batch's: ClickHouse is away
            raise ClickHouseUnavailable(f"request id look-up in {self.ids_table} failed: {exc}") from exc
        return [item for request_id_, item in first.items() if request_id_ not in seen]

    def _known_ids(self, ids: list[str]) -> set[str]:
        """Which of `ids` the ids table holds. The ids go as a TSV table, not as a query literal or
        parameter (ClickHouse parses those at ~6 us an id, a TSV file at well under 1): the embedded
        engine reads a file of this machine, a server gets the same bytes as external data."""
        table = _tsv_column(ids)
        with contextlib.ExitStack() as cleanup:
            if self.embedded:
                spool = cleanup.enter_context(tempfile.NamedTemporaryFile("w", suffix=".tsv"))
                spool.write(table)
                spool.flush()
                source = "file({path:String}, 'TSV', 'request_id String')"
                options: dict[str, Any] = {"parameters": {"path": spool.name}}
            else:
                source = "batch_ids"
                ids_data = ExternalData(
                    file_name="batch_ids.tsv", data=table.encode(), fmt="TSV", structure=["request_id String"]
                )
                options = {"external_data": ids_data}
            known = self.client.query(
                f"SELECT DISTINCT request_id FROM {self.ids_table} "  # noqa: S608 - our own SQL
                f"WHERE request_id IN (SELECT request_id FROM {source})",
                **options,
            )
        return {row[0] for row in known.result_rows}


def _tsv_column(texts: list[str]) -> str:
    """One TSV column; escaped only when some text needs it (ids seldom hold a tab or a backslash)."""
    joined = "\n".join(texts)
    if "\\" in joined or "\t" in joined or joined.count("\n") != len(texts) - 1:
        joined = "\n".join(map(_tsv_field, texts))
    return joined


def _tsv_field(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _check_last_body(record: EncodedCompletion) -> None:
    """ClickHouse's Avro reader leaves bytes after the last object of a block unread, so a last body
    with trailing bytes would pass: that one is decoded here (a body anywhere else with trailing
    bytes misaligns the ones after it, which ClickHouse does refuse)."""
    try:
        decode_completion(record.value)
    except (DecodeError, ValidationError) as exc:
        raise RejectedBatch(f"the record at offset {record.offset} does not decode: {exc}") from exc


def _settings(token: str) -> dict[str, Any]:
    return {
        "insert_deduplication_token": token,
        # The rollup views see the same token, so a retried batch is not counted twice there.
        "deduplicate_blocks_in_dependent_materialized_views": 1,
    }
