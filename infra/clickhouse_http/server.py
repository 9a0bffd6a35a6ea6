"""The aiohttp app: each request runs on its own chDB handle, one at a time, in a worker thread.

A fresh handle per request keeps settings and `USE` from leaking between requests, as separate
HTTP requests without a session are separate on a server. Requests run one at a time: the engine
is shared, and an insert's deduplication check must not interleave with another's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import chdb
from aiohttp import BodyPartReader, web

from infra.clickhouse_http.request import (
    BadRequest,
    ExternalTable,
    Statement,
    decompress,
    external_tables,
    parse_request,
)

logger = logging.getLogger("mobius.infra.clickhouse_http")
_ERROR_CODE = re.compile(r"Code:\s*(\d+)")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SERVER_TIMEZONE = "UTC"  # chDB runs in UTC here; the client reads this header to decode DateTime


@dataclass(frozen=True)
class Answer:
    body: bytes
    result_format: str | None  # None: the statement produced no result set
    summary: dict[str, str]


@dataclass
class InsertHold:
    """A test control: hold the next data insert before it runs, until released.

    This is how a test stalls a sink in the middle of an insert (its request sent, not yet done),
    the moment where a slow old owner and a new owner of a partition can both write one batch.
    """

    armed: bool = False
    waiting: list[int] = field(default_factory=list)  # the held requests' client ports
    finished: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def status(self) -> dict[str, object]:
        return {"armed": self.armed, "waiting": self.waiting, "finished": self.finished}


class EngineFront:
    """The chDB engine at `path`, run one statement at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keeper = chdb.connect(str(path))  # holds the engine open between requests

    def run(self, statement: Statement) -> Answer:
        with self._lock:
            handle = chdb.connect(str(self.path))
            try:
                if statement.database:
                    _check_identifier(statement.database, "database")
                    handle.query(f"USE `{statement.database}`", "TabSeparated")
                for name, value in statement.settings.items():
                    handle.query(f"SET {name} = {_quoted(value)}", "TabSeparated")
                for table in statement.external:
                    _create_external(handle, table)
                if statement.data is not None:
                    return self._insert(handle, statement)
                return self._query(handle, statement)
            finally:
                handle.close()

    def _insert(self, handle: Any, statement: Statement) -> Answer:
        with tempfile.NamedTemporaryFile(suffix=".data", delete=False) as spool:
            spool.write(statement.data or b"")
        try:
            sql = f"{statement.sql} FROM INFILE {_quoted(spool.name)} FORMAT {statement.data_format}"
            result = handle.query(sql, "TabSeparated", params=statement.params)
        finally:
            os.unlink(spool.name)
        return Answer(b"", None, _summary(result, written=True))

    def _query(self, handle: Any, statement: Statement) -> Answer:
        if statement.output_format is not None:  # the statement's own FORMAT clause wins
            result = handle.query(statement.sql, "TabSeparated", params=statement.params)
            return Answer(result.bytes() or b"", statement.output_format, _summary(result))
        # As on a server: a statement that yields a result set says so in X-ClickHouse-Format, even
        # with no rows. Run with names, so even an empty result shows itself by its header line.
        result = handle.query(statement.sql, "TabSeparatedWithNames", params=statement.params)
        body = result.bytes() or b""
        if not body:
            return Answer(b"", None, _summary(result))
        return Answer(body[body.find(b"\n") + 1 :], "TabSeparated", _summary(result))

    def close(self) -> None:
        self._keeper.close()


def _create_external(handle: Any, table: ExternalTable) -> None:
    """A temporary table on this request's handle, as a server makes one of external data: it lives
    as long as the request's handle (closed after the statement)."""
    handle.query(f"CREATE TEMPORARY TABLE `{table.name}` ({table.structure})", "TabSeparated")
    with tempfile.NamedTemporaryFile(suffix=".external", delete=False) as spool:
        spool.write(table.data)
    try:
        handle.query(
            f"INSERT INTO `{table.name}` FROM INFILE {_quoted(spool.name)} FORMAT {table.data_format}",
            "TabSeparated",
        )
    finally:
        os.unlink(spool.name)


def _summary(result: Any, *, written: bool = False) -> dict[str, str]:
    rows, size = str(result.rows_read()), str(result.bytes_read())
    counts = (
        {"written_rows": rows, "written_bytes": size} if written else {"read_rows": rows, "read_bytes": size}
    )
    return {**counts, "elapsed_ns": str(int(result.elapsed() * 1e9))}


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _check_identifier(name: str, what: str) -> None:
    if not _IDENTIFIER.match(name):
        raise BadRequest(f"invalid {what} name {name!r}")


def make_app(path: Path) -> web.Application:
    front = EngineFront(path)
    hold = InsertHold()

    async def ping(_: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    async def handle(request: web.Request) -> web.Response:
        query_id = request.query.get("query_id") or str(uuid.uuid4())
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Timezone": SERVER_TIMEZONE}
        started = time.monotonic()
        try:
            statement = await _statement(request)
            held = statement.data is not None and hold.armed
            if held:
                hold.armed = False
                peer = request.transport.get_extra_info("peername") if request.transport else None
                hold.waiting.append(int(peer[1]) if peer else 0)
                await hold.release.wait()
            answer = await asyncio.to_thread(front.run, statement)
            if held:
                hold.finished += 1
        except BadRequest as exc:
            return _error(400, 27, str(exc), headers)
        except RuntimeError as exc:  # chDB's errors (ChdbError is one), passed on as a server would
            text = str(exc)
            code = _ERROR_CODE.search(text)
            logger.info("query %s failed after %.3f s: %s", query_id, time.monotonic() - started, text[:200])
            return _error(500, int(code.group(1)) if code else 1001, text, headers)
        headers["X-ClickHouse-Summary"] = json.dumps(answer.summary)
        if answer.result_format is not None:
            headers["X-ClickHouse-Format"] = answer.result_format
        return web.Response(body=answer.body, headers=headers, content_type="application/octet-stream")

    async def hold_next_insert(_: web.Request) -> web.Response:
        hold.armed = True
        hold.release.clear()
        return web.json_response(hold.status())

    async def release(_: web.Request) -> web.Response:
        hold.waiting.clear()
        hold.release.set()
        return web.json_response(hold.status())

    async def hold_status(_: web.Request) -> web.Response:
        return web.json_response(hold.status())

    async def close(_: web.Application) -> None:
        front.close()

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_get("/ping", ping)
    app.router.add_post("/_front/hold-next-insert", hold_next_insert)
    app.router.add_post("/_front/release", release)
    app.router.add_get("/_front/hold", hold_status)
    app.router.add_route("*", "/", handle)
    app.on_cleanup.append(close)
    return app


async def _statement(request: web.Request) -> Statement:
    params = dict(request.query)
    if request.content_type != "multipart/form-data":
        body = decompress(await request.read(), request.headers.get("Content-Encoding"))
        return parse_request(params, body)
    files: dict[str, bytes] = {}  # external data: a file a table, the query a parameter or a form value
    async for part in _parts(request):
        if part.filename is None:
            params[part.name or ""] = (await part.read()).decode()
        else:
            files[part.name or ""] = bytes(await part.read())
    external = external_tables(params, files)
    return replace(parse_request(params, b""), external=external)


async def _parts(request: web.Request) -> AsyncIterator[BodyPartReader]:
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader):
            yield part


def _error(status: int, code: int, text: str, headers: dict[str, str]) -> web.Response:
    message = text[text.find("Code:") :] if "Code:" in text else f"Code: {code}. DB::Exception: {text}"
    return web.Response(
        status=status,
        text=message.rstrip() + "\n",
        headers={**headers, "X-ClickHouse-Exception-Code": str(code)},
    )
