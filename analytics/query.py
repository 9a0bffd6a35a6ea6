"""Running analyst SQL: on a ClickHouse server, or through the sink in embedded mode.

chDB lets one process own a data path. While `mobius sink` runs it owns it, so it also answers
queries on a loopback HTTP endpoint (analytics/query_endpoint.py); `mobius sql` and `mobius report`
use that endpoint when it answers and open the embedded engine themselves when no sink is running.
Either way the statement runs on a read-only analyst session (analytics/analyst_sql.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from analytics.analyst_sql import ANALYST_LIMITS, SqlRefused, check_analyst_sql
from analytics.clickhouse import ClickHouseUnavailable, connect, while_locked
from analytics.config import ClickHouseConfig
from analytics.migrations import apply_migrations


class QueryFailed(Exception):
    """The SQL was rejected or could not run; the message is ClickHouse's (or says why it was refused)."""


@dataclass(frozen=True)
class QueryResult:
    """Columns and rows of one analyst query."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def run_query(client: Client, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
    try:
        result = client.query(sql, parameters=parameters or {})
    except ClickHouseError as exc:
        raise QueryFailed(str(exc).strip().splitlines()[0]) from exc
    return QueryResult(tuple(result.column_names), tuple(tuple(row) for row in result.result_rows))


def run_analyst_query(client: Client, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
    """`run_query` for an analyst's statement: refused unless it only reads (see analyst_sql)."""
    try:
        check_analyst_sql(sql)
    except SqlRefused as exc:
        raise QueryFailed(f"refused: {exc}") from None
    return run_query(client, sql, parameters)


def open_analyst_session(dsn: str, database: str | None = None) -> Client:
    """A session of its own on the embedded engine (this process must already own the path):
    the analyst limits set, then `readonly = 1`, which freezes them and refuses every write."""
    client = connect(dsn, database=database)
    for name, value in ANALYST_LIMITS.items():
        client.command(f"SET {name} = {value!r}" if isinstance(value, str) else f"SET {name} = {value}")
    client.command("SET readonly = 1")
    return client


def run_sql(ch: ClickHouseConfig, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
    """Run an analyst's SQL wherever the data is; see the module docstring for the embedded case."""
    if not ch.embedded:
        # On a server the analyst's own user and role decide what it may do (analytics/roles.sql).
        client = connect(ch.dsn, ch.password)
        try:
            return run_analyst_query(client, sql, parameters)
        finally:
            client.close()

    # A sink that holds the path but does not answer yet is starting: ask it again, for a while.
    def ask_or_open() -> QueryResult:
        try:
            return ask_sink(ch, sql, parameters or {})
        except ConnectionRefusedError:
            return _query_engine_here(ch, sql, parameters)  # no sink answering: open the engine

    return while_locked(ask_or_open)


def _query_engine_here(ch: ClickHouseConfig, sql: str, parameters: dict[str, Any] | None) -> QueryResult:
    """No sink runs: this process opens the engine, brings its schema up to date (a store no sink
    has written yet still has its tables) and reads on an analyst session."""
    owner = connect(ch.dsn)
    try:
        apply_migrations(owner, ch.ttl_days)
        analyst = open_analyst_session(ch.dsn)
        try:
            return run_analyst_query(analyst, sql, parameters)
        finally:
            analyst.close()
    finally:
        owner.close()


def ask_sink(ch: ClickHouseConfig, sql: str, parameters: dict[str, Any]) -> QueryResult:
    """The running sink's answer; ConnectionRefusedError when no sink listens."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{ch.query_port}/query",
        data=json.dumps({"sql": sql, "parameters": {k: jsonable(v) for k, v in parameters.items()}}).encode(),
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {_token(ch.query_token_file)}",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise QueryFailed(json.loads(exc.read()).get("error", str(exc))) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise exc.reason from None
        raise ClickHouseUnavailable(f"the sink's query endpoint failed: {exc.reason}") from exc
    return QueryResult(tuple(body["columns"]), tuple(tuple(row) for row in body["rows"]))


def _token(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""  # the sink refuses, and says where its token lives
    except PermissionError:
        raise QueryFailed(f"cannot read the analyst token {path}: it belongs to the sink's user") from None


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        # ClickHouse's own text form, which it parses back for DateTime64 parameters.
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
