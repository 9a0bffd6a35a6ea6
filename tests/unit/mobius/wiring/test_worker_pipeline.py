"""The worker's pipeline takes its stream coalescing from MOBIUS_WORKER_STREAM_CHUNK_MS."""

from __future__ import annotations

from typing import cast

import pytest

from mobius.settings import MobiusSettings
from mobius.wiring.worker import build_pipeline
from routing.llm_gateway import LLMGateway
from routing.router_config import load_router_config
from streams.stores.budgets import RedisBudgetStore
from streams.stores.connection import redis_client
from tests.support.fakes import FakeClassifier, FakeCompleter


@pytest.mark.parametrize(("variable", "interval_s"), [(None, 0.05), ("0", 0.0), ("200", 0.2)])
async def test_the_chunk_interval_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str | None, interval_s: float
) -> None:
    if variable is not None:
        monkeypatch.setenv("MOBIUS_WORKER_STREAM_CHUNK_MS", variable)
    settings = MobiusSettings()
    config = load_router_config(settings.router_config)
    redis = redis_client(settings.redis)  # not connected: nothing here talks to Redis
    gateway = cast(LLMGateway, FakeCompleter())  # the wiring only hands it on
    pipeline = build_pipeline(settings, config, gateway, RedisBudgetStore(redis, 0.8), FakeClassifier())
    assert pipeline.chunk_interval_s == pytest.approx(interval_s)
    await redis.aclose()
