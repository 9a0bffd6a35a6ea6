"""`mobius sink`, then `mobius sql` and `mobius report` while it runs (chDB allows one process per
data path: the CLI asks the sink), and after it stops (the CLI opens the engine itself)."""

from __future__ import annotations

import asyncio
import json
import time
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


def test_sql_and_report_work_while_the_sink_runs_and_after(stack: MobiusSettings, tmp_path: Path) -> None:
    sink = SinkProcess(stack)
    sink.start()
    try:
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
    finally:
        assert sink.stop()
    assert _count(stack) == 25  # no sink: the CLI opened the embedded engine itself
