"""The one way this code base opens ClickHouse: embedded chDB or a server, same client API.

`chdb:///path` opens the embedded engine in this process. chDB allows one process per data path
and one data path per process, so the process that owns the path (the sink) is the only writer.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from clickhouse_connect import get_client
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

T = TypeVar("T")
# How long a caller waits for an embedded path another process holds for a moment (a sink starting,
# a `mobius sql` reading).
LOCKED_GRACE_S = 30.0


class ClickHouseUnavailable(Exception):
    """ClickHouse could not be reached or opened; the message says why."""


class EngineLocked(ClickHouseUnavailable):
    """The embedded engine's data path is open in another process (normally the sink)."""


# Embedded paths this process has opened (chDB keeps one engine per process for its lifetime).
_opened_here: set[Path] = set()


def embedded_path(dsn: str) -> Path | None:
    return Path(dsn.removeprefix("chdb://")) if dsn.startswith("chdb://") else None


def engine_locked(path: Path) -> bool:
    """True when another process holds the embedded engine at `path` (its status file is locked)."""
    status = path / "status"
    if not status.exists():
        return False
    with status.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def connect(dsn: str, password: SecretStr | None = None, database: str | None = None) -> Client:
    """A client; DateTime columns come back timezone-aware (UTC), as the rest of the code expects."""
    path = embedded_path(dsn)
    if path is not None and path not in _opened_here and engine_locked(path):
        # Checked first: chDB's own failure here is an opaque "Error initializing EmbeddedServer".
        raise EngineLocked(f"the embedded ClickHouse at {path} is open in another process (the sink owns it)")
    options: dict[str, str] = {"tz_mode": "aware"}
    if password is not None:
        options["password"] = password.get_secret_value()
    if database is not None:
        options["database"] = database
    try:
        client = get_client(dsn=dsn, **options)  # type: ignore[arg-type]
        if path is not None:
            _opened_here.add(path)  # our own engine holds the lock from now on; that is no conflict
        return client
    except ClickHouseError as exc:
        if path is not None and path not in _opened_here and engine_locked(path):  # opened just before us
            raise EngineLocked(f"the embedded ClickHouse at {path} is open in another process") from exc
        raise ClickHouseUnavailable(_explain(dsn, exc)) from exc


def runs_in_process(client: Client) -> bool:
    """Whether the client's engine is embedded here (chDB), so it reads this machine's files."""
    return type(client).__name__ == "ChdbClient"


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
    if "already initialized with path" in text:
        return "this process already opened another embedded ClickHouse path (chDB allows one per process)"
    return (
        f"cannot open ClickHouse at {redact_dsn(dsn)}: {text.splitlines()[0] if text else type(exc).__name__}"
    )


def while_locked(action: Callable[[], T], grace_s: float = LOCKED_GRACE_S) -> T:
    """`action()`, tried again while it raises EngineLocked, for up to `grace_s`."""
    retrying = Retrying(
        retry=retry_if_exception_type(EngineLocked),
        stop=stop_after_delay(grace_s),
        wait=wait_fixed(0.2),
        reraise=True,
    )
    return retrying(action)
