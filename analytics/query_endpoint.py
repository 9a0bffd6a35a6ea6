"""The sink's loopback query endpoint (embedded mode): POST /query with the analyst token.

The token is a random secret the sink writes once to the state directory, readable by its owner
only; `mobius sql` and `mobius report` read it and send it as a bearer token. Queries run on the
sink's read-only analyst session, never on the session that writes.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from clickhouse_connect.driver.client import Client

from analytics.query import QueryFailed, QueryResult, jsonable, run_analyst_query

MAX_REQUEST_BYTES = 1024 * 1024


def ensure_token(path: Path) -> str:
    """The analyst token at `path`, created (owner-only, 0600) when missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)  # an older file keeps its secret but not looser rights
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        token = secrets.token_urlsafe(32)
        handle.write(token + "\n")
    return token


def make_query_app(analyst: Client, token: str, token_file: Path) -> web.Application:
    lock = threading.Lock()  # one statement at a time on the analyst session
    expected = f"Bearer {token}".encode()

    def locked_query(sql: str, parameters: dict[str, Any]) -> QueryResult:
        with lock:
            return run_analyst_query(analyst, sql, parameters)

    async def query(request: web.Request) -> web.Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            message = f"missing or wrong analyst token: send the one in {token_file} as a bearer token"
            return web.json_response({"error": message}, status=401)
        try:
            body = await request.json()
            sql, parameters = str(body["sql"]), dict(body.get("parameters") or {})
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"error": 'the body must be JSON: {"sql": ..., "parameters": {...}}'}, status=400
            )
        try:
            result = await asyncio.to_thread(locked_query, sql, parameters)
        except QueryFailed as exc:
            return web.json_response({"error": str(exc)}, status=400)
        payload = {
            "columns": list(result.columns),
            "rows": [[jsonable(v) for v in row] for row in result.rows],
        }
        return web.json_response(payload, dumps=json.dumps)

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_post("/query", query)
    return app
