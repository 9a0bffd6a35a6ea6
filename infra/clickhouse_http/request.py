"""What one HTTP request asks of ClickHouse, taken apart the way the server does (pure: no engine).

The SQL is the `query` parameter, the body, or the parameter followed by the body. An INSERT whose
statement ends in `FORMAT <name>` carries its data after that clause (after the statement's line
when the statement is in the body, or the whole body when the statement is in the parameter).
Every other parameter is a setting, except the transport's own and `param_<name>` values.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import lz4.frame  # type: ignore[import-untyped]
from backports import zstd

# Parameters the HTTP layer consumes; they are no engine settings.
TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "quota_key",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
        "enable_http_compression",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
    }
)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Only the head of a body is searched: the data after the statement may be megabytes of binary.
_HEAD_BYTES = 256 * 1024
_INSERT_WITH_FORMAT = re.compile(rb"^\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+(\w+)", re.IGNORECASE | re.DOTALL)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)


class BadRequest(Exception):
    """The request is not one ClickHouse would accept (the message says why)."""


@dataclass(frozen=True)
class Statement:
    """One statement to run: its SQL, the data an INSERT brings, and how to run it."""

    sql: str
    data: bytes | None = None  # set for `INSERT ... FORMAT`: the rows, in `data_format`
    data_format: str = ""
    output_format: str | None = None  # the statement's own trailing FORMAT clause, if any
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    database: str | None = None
    external: tuple[ExternalTable, ...] = ()  # the request's external data, as temporary tables


@dataclass(frozen=True)
class ExternalTable:
    """A table the client sent with its query (multipart form data): its name, columns and rows."""

    name: str
    structure: str  # "name Type, ..."
    data_format: str
    data: bytes


def external_tables(params: dict[str, str], files: Mapping[str, bytes]) -> tuple[ExternalTable, ...]:
    """The form's files as tables, their `<name>_structure` / `_types` / `_format` parameters taken
    out of `params` (they are no settings). As a server does: `_types` names columns _1, _2, ..."""
    tables = []
    for name, data in files.items():
        if not _SETTING_NAME.match(name):
            raise BadRequest(f"invalid external table name {name!r}")
        structure = params.pop(f"{name}_structure", "")
        types = params.pop(f"{name}_types", "")
        data_format = params.pop(f"{name}_format", "TabSeparated")
        if not structure and types:
            structure = ", ".join(f"_{i} {t.strip()}" for i, t in enumerate(types.split(","), start=1))
        if not structure:
            raise BadRequest(f"external table {name!r} has neither {name}_structure nor {name}_types")
        tables.append(ExternalTable(name, structure, data_format, data))
    return tuple(tables)


def decompress(body: bytes, encoding: str | None) -> bytes:
    """The body as sent before Content-Encoding (clickhouse-connect compresses inserts by default,
    with the first of lz4, zstd, brotli, gzip it has; lz4 and zstd come with it, brotli does not)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity" or not body:
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "zstd":
        return bytes(zstd.decompress(body))
    if encoding == "lz4":
        return _lz4_frames(body)
    raise BadRequest(f"unsupported Content-Encoding {encoding!r}")


def _lz4_frames(body: bytes) -> bytes:
    """clickhouse-connect sends one LZ4 frame per block: decode them all, one after another."""
    out = bytearray()
    rest = body
    while rest:
        decoder = lz4.frame.LZ4FrameDecompressor()
        out += decoder.decompress(rest)
        if not decoder.eof:
            raise BadRequest("truncated lz4 frame")
        rest = decoder.unused_data
    return bytes(out)


def parse_request(params: Mapping[str, str], body: bytes) -> Statement:
    settings = {k: v for k, v in params.items() if k not in TRANSPORT_PARAMS and not k.startswith("param_")}
    for name in settings:
        if not _SETTING_NAME.match(name):
            raise BadRequest(f"invalid setting name {name!r}")
    bound = {k.removeprefix("param_"): v for k, v in params.items() if k.startswith("param_")}
    common = {"settings": settings, "params": bound, "database": params.get("database") or None}
    query = params.get("query", "")
    if query:
        insert = _INSERT_WITH_FORMAT.match(query.encode())
        if insert is not None and not query[insert.end() :].strip():
            return Statement(insert.group(1).decode(), body, insert.group(2).decode(), **common)  # type: ignore[arg-type]
    head = body[:_HEAD_BYTES]
    if not query:
        insert = _INSERT_WITH_FORMAT.match(head)
        if insert is not None:
            data = body[insert.end() :]
            data = data[_line_end(data) :]
            return Statement(insert.group(1).decode(), data, insert.group(2).decode(), **common)  # type: ignore[arg-type]
    sql = f"{query}\n{body.decode()}" if query and body else query or body.decode()
    if not sql.strip():
        raise BadRequest("empty query")
    trailing = _TRAILING_FORMAT.search(sql)
    return Statement(sql, output_format=trailing.group(1) if trailing else None, **common)  # type: ignore[arg-type]


def _line_end(data: bytes) -> int:
    """Where the data starts: past the blanks and the one line break that end the statement."""
    i = 0
    while i < len(data) and data[i : i + 1] in (b" ", b"\t"):
        i += 1
    if data[i : i + 2] == b"\r\n":
        return i + 2
    if data[i : i + 1] == b"\n":
        return i + 1
    return i
