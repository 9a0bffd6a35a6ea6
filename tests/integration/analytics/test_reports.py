"""Every saved query runs on real data, on the analyst's read-only session, and its chart is a
real picture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from matplotlib.image import imread

from analytics.query import open_analyst_session, run_analyst_query, run_query
from analytics.reports import draw, load_saved_queries
from analytics.rows import COLUMNS, completion_row
from mobius.settings import DEFAULT_ROUTER_CONFIG, MobiusSettings
from mobius.wiring.sink import record_prices
from routing.router_config import load_router_config
from tests.support.analytics import record

SAVED = load_saved_queries()


@pytest.fixture
def filled(database: Client) -> Client:
    rows = []
    for i in range(300):
        r = record(i, cost=1000 + 37 * i)
        shifted = r.model_copy(
            update={
                "created_at": r.created_at - timedelta(minutes=i % 45),
                "model": ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "openai/gpt-4o"][i % 3],
                "model_group": ["fast", "fast", "smart"][i % 3],
                "tier": ["free", "pro", "enterprise"][i % 3],
            }
        )
        rows.append(completion_row(shifted))
    database.insert("completions", rows, column_names=list(COLUMNS))
    record_prices(database, load_router_config(DEFAULT_ROUTER_CONFIG))
    return database


@pytest.mark.parametrize("name", sorted(SAVED))
def test_saved_query_runs_and_draws_its_chart(
    stack_settings: MobiusSettings, filled: Client, name: str, tmp_path: Path
) -> None:
    query = SAVED[name]
    analyst = open_analyst_session(stack_settings.clickhouse_dsn, database=filled.database)
    try:
        result = run_analyst_query(analyst, query.sql, {"since": datetime.now(UTC) - timedelta(hours=2)})
    finally:
        analyst.close()
    assert result.rows, f"{name} returned nothing"
    assert set(query.plot.y) <= set(result.columns) and query.plot.x in result.columns
    png = tmp_path / f"{name}.png"
    draw(query, result, png)
    assert png.stat().st_size > 15_000
    pixels = imread(png)
    assert pixels.shape[:2] == (550, 1000)
    colours = {tuple(p) for p in pixels[::7, ::7, :3].reshape(-1, 3).round(2)}
    assert len(colours) > 8, "the chart is (nearly) blank"


def test_savings_report_prices_the_all_smart_baseline(filled: Client) -> None:
    result = run_query(
        filled, SAVED["savings_vs_all_smart"].sql, {"since": datetime.now(UTC) - timedelta(hours=2)}
    )
    by_tier = {row[0]: dict(zip(result.columns, row, strict=True)) for row in result.rows}
    free = by_tier["free"]  # all on gpt-4o-mini here, far cheaper per token than smart
    assert 0 < free["cost_usd"] < free["all_smart_usd"]
    assert 0 < free["saved_share"] < 1
