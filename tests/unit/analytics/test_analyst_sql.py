"""The analyst statement check: one read, inside ClickHouse's tables, whatever the spelling."""

from __future__ import annotations

import pytest

from analytics.analyst_sql import SqlRefused, check_analyst_sql
from analytics.reports import load_saved_queries


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM completions",
        "  with t AS (SELECT 1 AS x) SELECT x FROM t;",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SHOW TABLES",
        "DESCRIBE TABLE completions",
        "EXPLAIN SELECT 1",
        "SELECT 'file(\\'/etc/passwd\\')' AS quoted_text, profile FROM completions",
        "SELECT url_path, model FROM completions -- file('/etc/passwd')",
        "SELECT 1 /* INTO OUTFILE 'x' */",
    ],
)
def test_reads_pass(sql: str) -> None:
    check_analyst_sql(sql)


@pytest.mark.parametrize("name", sorted(load_saved_queries()))
def test_every_saved_report_passes(name: str) -> None:
    check_analyst_sql(load_saved_queries()[name].sql)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO completions SELECT * FROM completions", "only read"),
        ("DROP TABLE completions", "only read"),
        ("create table x (a UInt8) ENGINE = Memory", "only read"),
        ("ALTER TABLE completions DELETE WHERE 1", "only read"),
        ("KILL QUERY WHERE 1", "only read"),
        ("SYSTEM SHUTDOWN", "only read"),
        ("SET readonly = 0", "only read"),
        ("SELECT 1; DROP TABLE completions", "one statement"),
        ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "file()"),
        ("SELECT file('/etc/hostname')", "file()"),
        ("SELECT * FROM `file` ('/etc/hostname')", "file()"),
        ("SELECT * FROM \"FILE\"('/etc/hostname')", "FILE()"),
        ("SELECT * FROM url('http://example.test/x', 'CSV')", "url()"),
        ("SELECT * FROM remote('10.0.0.1', system.one)", "remote()"),
        ("SELECT * FROM remoteSecure('10.0.0.1', system.one)", "remoteSecure()"),
        ("SELECT * FROM s3('http://x/y', 'CSV')", "s3()"),
        ("SELECT * FROM Python(settings)", "Python()"),
        ("SELECT * FROM executable('x.sh', 'CSV', 'a String')", "executable()"),
        ("SELECT * FROM file/**/('/etc/hostname')", "file()"),
        ("SELECT 1 INTO OUTFILE '/tmp/x.csv'", "INTO OUTFILE"),
        ("SELECT 1 into\n  outfile '/tmp/x.csv'", "INTO OUTFILE"),
        ("", "empty"),
        ("-- only a comment", "empty"),
    ],
)
def test_anything_else_is_refused_with_the_reason(sql: str, reason: str) -> None:
    with pytest.raises(SqlRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_analyst_sql(sql)
