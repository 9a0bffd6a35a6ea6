"""`mobius sink`, then `mobius sql` and `mobius report` while it runs (chDB allows one process per
data path: the CLI asks the sink, with the analyst token), and after it stops (the CLI opens the
engine itself); writes, DDL and outside table functions are refused either way."""

from __future__ import annotations

import asyncio
import json
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.ports import pick_free_port
from mobius.fleet import SinkProcess
from mobius.settings import MobiusSettings, settings_env
from mobius.stack import LocalStack
from streams.topics import ensure_topics
from tests.support.analytics import produce, record
from tests.support.cli import local_settings, run_mobius


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[MobiusSettings]:
    settings = local_settings(tmp_path / "state", analytics_query_port=pick_free_port())
    LocalStack(settings).up()
    try:
        asyncio.run(ensure_topics(settings.kafka, settings.topics.all()))
        yield settings
    finally:
        LocalStack(settings).down()


def _count(settings: MobiusSettings) -> int:
    result = run_mobius("sql", "SELECT count() AS n FROM completions", "--json", env=settings_env(settings))
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)[0]["n"])


def _the_endpoint_admits_only_the_analyst_token(settings: MobiusSettings) -> None:
    token_file = settings.clickhouse.query_token_file
    assert token_file is not None and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    url = f"http://127.0.0.1:{settings.analytics_query_port}/query"
    body = json.dumps({"sql": "SELECT count() FROM completions"}).encode()
    for headers in ({}, {"authorization": "Bearer not-the-token"}):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback
        assert refused.value.code == 401
        assert str(token_file) in json.loads(refused.value.read())["error"]


def test_sql_and_report_work_while_the_sink_runs_and_after(stack: MobiusSettings, tmp_path: Path) -> None:
    assert _count(stack) == 0  # no sink has run yet: the store still has its tables
    sink = SinkProcess(stack)
    sink.start()
    try:
        assert _count(stack) == 0  # asked while the sink starts: it waits for the sink, or the sink for it
        asyncio.run(produce(stack, [record(i, cost=100 + i) for i in range(25)]))
        deadline = time.monotonic() + 90
        while _count(stack) != 25:
            assert sink.process.is_running(), sink.process.log_tail()
            assert time.monotonic() < deadline, "rows never arrived"
            time.sleep(0.5)
        png = tmp_path / "spenders.png"
        report = run_mobius(
            "report", "top_spenders", "--since", "1h", "--plot", str(png), env=settings_env(stack)
        )
        assert report.returncode == 0, report.stderr
        assert "user:user-" in report.stdout or "org:acme" in report.stdout
        assert png.stat().st_size > 10_000
        bad = run_mobius("sql", "SELECT nope FROM completions", env=settings_env(stack))
        assert bad.returncode == 1 and "nope" in bad.stderr and "Traceback" not in bad.stderr
        _the_endpoint_admits_only_the_analyst_token(stack)
        for refused in (
            "DROP TABLE completions",
            "INSERT INTO completions SELECT * FROM completions",
            "SELECT * FROM file('/etc/hostname', 'LineAsString')",
            "SELECT file('/etc/hostname')",
            "SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')",
            "SELECT * FROM remote('127.0.0.1', system.one)",
        ):
            result = run_mobius("sql", refused, env=settings_env(stack))
            assert result.returncode == 1 and "refused" in result.stderr, (refused, result.stderr)
            assert "Traceback" not in result.stderr
    finally:
        assert sink.stop()
    assert _count(stack) == 25  # no sink: the CLI opened the embedded engine itself
    dropped = run_mobius("sql", "DROP TABLE completions", env=settings_env(stack))
    assert dropped.returncode == 1 and "refused" in dropped.stderr
    assert _count(stack) == 25
