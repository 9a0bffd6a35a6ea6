"""The one way this code base opens ClickHouse: embedded chDB or a server, same client API.

`chdb:///path` opens the embedded engine in this process. chDB allows one process per data path
and one data path per process, so the process that owns the path (the sink) is the only writer.
"""

from __future__ import annotations

from clickhouse_connect import get_client
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from pydantic import SecretStr


class ClickHouseUnavailable(Exception):
    """ClickHouse could not be reached or opened; the message says why."""


def connect(dsn: str, password: SecretStr | None = None) -> Client:
    """A client; DateTime columns come back timezone-aware (UTC), as the rest of the code expects."""
    try:
        if password is None:
            return get_client(dsn=dsn, tz_mode="aware")
        return get_client(dsn=dsn, password=password.get_secret_value(), tz_mode="aware")
    except ClickHouseError as exc:
        raise ClickHouseUnavailable(_explain(dsn, exc)) from exc


def server_version(client: Client) -> str:
    try:
        return str(client.query("SELECT version()").result_rows[0][0])
    except ClickHouseError as exc:
        raise ClickHouseUnavailable(f"ClickHouse did not answer: {exc}") from exc


def redact_dsn(dsn: str) -> str:
    """The DSN without credentials, fit for logs and status output."""
    scheme, sep, rest = dsn.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def _explain(dsn: str, exc: Exception) -> str:
    text = str(exc)
    if "Cannot lock file" in text or "already running" in text:
        return f"the embedded ClickHouse at {redact_dsn(dsn)} is open in another process (the sink owns it)"
    if "already initialized with path" in text:
        return "this process already opened another embedded ClickHouse path (chDB allows one per process)"
    return (
        f"cannot open ClickHouse at {redact_dsn(dsn)}: {text.splitlines()[0] if text else type(exc).__name__}"
    )
