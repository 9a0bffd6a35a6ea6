"""What analyst SQL may do: read the pipeline's tables, within limits, and nothing else.

ClickHouse's own `readonly = 1` is the boundary: on the analyst's session it refuses every write,
DDL, setting change and the table functions that reach files, URLs and other servers (file(),
url(), remote(), s3(), mysql(), executable(), ...). Two holes remain in the embedded engine, which
runs inside the sink's process: the scalar `file()` function and `INTO OUTFILE` still reach the
disk under readonly, and chDB's `Python()` table function reads the sink's own memory. So the
statement is also checked here, on its tokens (comments and string literals removed first).
"""

from __future__ import annotations

import re

# Per-query limits of the analyst's session (set before readonly, which then freezes them).
ANALYST_LIMITS: dict[str, str | int] = {
    "max_execution_time": 60,
    "max_memory_usage": 4 * 1024**3,
    "max_result_rows": 1_000_000,
    "max_result_bytes": 512 * 1024**2,
    "result_overflow_mode": "throw",
}

_READ_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})

# Functions that read or write outside the pipeline's tables (files, URLs, other servers,
# processes, the host process's memory); refused whatever readonly would say.
_OUTSIDE_FUNCTIONS = frozenset(
    {
        "file", "filecluster", "url", "urlcluster", "remote", "remotesecure", "cluster",
        "clusterallreplicas", "s3", "s3cluster", "gcs", "oss", "cosn", "azureblobstorage",
        "azureblobstoragecluster", "hdfs", "hdfscluster", "mysql", "postgresql", "odbc", "jdbc",
        "mongodb", "redis", "sqlite", "executable", "executablepool", "python", "input",
        "dictionary", "iceberg", "icebergs3", "icebergazure", "iceberghdfs", "iceberglocal",
        "deltalake", "hudi", "ytsaurus", "arrowflight", "timeseriesdata",
    }
)  # fmt: skip

_TOKENS = re.compile(
    r"""(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)
      | (?P<string>'(?:[^'\\]|\\.|'')*')
      | (?P<quoted>`(?:[^`\\]|\\.|``)*`|"(?:[^"\\]|\\.|"")*")""",
    re.DOTALL | re.VERBOSE,
)
_FUNCTION_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_INTO_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
_FIRST_WORD = re.compile(r"\s*\(*\s*([A-Za-z]+)")


class SqlRefused(Exception):
    """The statement is not a single read of the pipeline's data; the message says why."""


def check_analyst_sql(sql: str) -> None:
    """Refuse anything but one read-only statement that stays inside ClickHouse's tables."""
    code = _TOKENS.sub(_neutral, sql)
    statements = [s for s in code.split(";") if s.strip()]
    if not statements:
        raise SqlRefused("the query is empty")
    if len(statements) > 1:
        raise SqlRefused("one statement per query: remove the ';' between statements")
    first = _FIRST_WORD.match(statements[0])
    if first is None or first.group(1).upper() not in _READ_STATEMENTS:
        word = first.group(1).upper() if first else statements[0].strip()[:20]
        raise SqlRefused(f"analysts may only read (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN), not {word}")
    if _INTO_OUTFILE.search(code):
        raise SqlRefused("INTO OUTFILE is refused: results come back to the caller, never to a file")
    for match in _FUNCTION_CALL.finditer(code):
        if match.group(1).lower() in _OUTSIDE_FUNCTIONS:
            raise SqlRefused(
                f"{match.group(1)}() is refused: analyst queries read the pipeline's tables, "
                "not files, URLs, other servers or processes"
            )


def _neutral(match: re.Match[str]) -> str:
    """Comments and strings become blanks; a quoted identifier becomes its bare name (so a
    quoted function name is still seen)."""
    if match.group("quoted"):
        return " " + re.sub(r"\W", "_", match.group("quoted")[1:-1]) + " "
    return " '' " if match.group("string") else " "
