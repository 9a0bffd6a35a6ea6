"""Running analyst SQL: directly on a ClickHouse server, or through the sink in embedded mode.

chDB lets one process own a data path. While `mobius sink` runs it owns it, so it also answers
queries on a loopback HTTP endpoint (POST /query, JSON); `mobius sql` and `mobius report` use that
endpoint when it answers and open the embedded engine themselves when no sink is running.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from analytics.clickhouse import ClickHouseUnavailable, EngineLocked, connect
from analytics.config import ClickHouseConfig

SINK_START_GRACE_S = 30.0


class QueryFailed(Exception):
    """The SQL was rejected or could not run; the message is ClickHouse's."""


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


def run_sql(ch: ClickHouseConfig, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
    """Run SQL wherever the data is; see the module docstring for the embedded case."""
    if not ch.embedded:
        return _query_directly(ch, sql, parameters)
    # A sink that holds the path but does not answer yet is starting: ask it again, for a while.
    retrying = Retrying(
        retry=retry_if_exception_type(EngineLocked),
        stop=stop_after_delay(SINK_START_GRACE_S),
        wait=wait_fixed(0.2),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            try:
                return _ask_sink(ch.query_port, sql, parameters or {})
            except ConnectionRefusedError:
                return _query_directly(ch, sql, parameters)  # no sink answering: open the engine
    raise AssertionError("unreachable: Retrying re-raises the last EngineLocked")


def _query_directly(ch: ClickHouseConfig, sql: str, parameters: dict[str, Any] | None) -> QueryResult:
    client = connect(ch.dsn, ch.password)
    try:
        return run_query(client, sql, parameters)
    finally:
        client.close()


def make_query_app(client: Client, lock: threading.Lock) -> web.Application:
    """The sink's loopback query endpoint."""

    def locked_query(sql: str, parameters: dict[str, Any]) -> QueryResult:
        with lock:
            return run_query(client, sql, parameters)

    async def query(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            result = await asyncio.to_thread(
                locked_query, str(body["sql"]), dict(body.get("parameters") or {})
            )
        except QueryFailed as exc:
            return web.json_response({"error": str(exc)}, status=400)
        payload = {
            "columns": list(result.columns),
            "rows": [[_jsonable(v) for v in row] for row in result.rows],
        }
        return web.json_response(payload, dumps=json.dumps)

    app = web.Application()
    app.router.add_post("/query", query)
    return app


def _ask_sink(port: int, sql: str, parameters: dict[str, Any]) -> QueryResult:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/query",
        data=json.dumps(
            {"sql": sql, "parameters": {k: _jsonable(v) for k, v in parameters.items()}}
        ).encode(),
        headers={"content-type": "application/json"},
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        # ClickHouse's own text form, which it parses back for DateTime64 parameters.
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
