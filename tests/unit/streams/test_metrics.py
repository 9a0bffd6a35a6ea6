"""What the worker's metrics count for each outcome of a query (bounded labels only)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from routing.outcomes import LLMError
from schemas.events import encode_query
from streams.alerts import alert_record
from streams.metrics import PrometheusMetrics
from streams.pipeline.route_pipeline import RoutePipeline
from tests.support.events import QUERY
from tests.support.fakes import FakeCompleter
from tests.support.route_pipelines import fake_pipeline


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _pipeline(llm: FakeCompleter) -> RoutePipeline:
    return fake_pipeline(llm, count_tokens=lambda messages: 10, metrics=PrometheusMetrics())


async def test_an_answer_counts_its_request_tokens_cost_and_stages() -> None:
    route = {"group": "fast", "model": "openai/fast-model"}
    ok = route | {"tier": "pro", "query_type": "simple", "outcome": "ok"}
    before = {
        "requests": _value("mobius_requests_total", **ok),
        "prompt": _value("mobius_tokens_total", **route, kind="prompt"),
        "cost": _value("mobius_cost_usd_total", group="fast", model="openai/fast-model"),
        "stages": _value("mobius_request_stage_seconds_count", stage="routing"),
    }
    await _pipeline(FakeCompleter()).handle(encode_query(QUERY))
    assert _value("mobius_requests_total", **ok) == before["requests"] + 1
    assert (
        _value("mobius_tokens_total", group="fast", model="openai/fast-model", kind="prompt")
        == before["prompt"] + 10
    )
    assert _value("mobius_cost_usd_total", group="fast", model="openai/fast-model") > before["cost"]
    assert _value("mobius_request_stage_seconds_count", stage="routing") == before["stages"] + 1


async def test_an_error_counts_under_its_code_and_a_dead_letter_is_counted() -> None:
    failed = {
        "group": "fast",
        "model": "none",
        "tier": "pro",
        "query_type": "simple",
        "outcome": "provider_unavailable",
    }
    before, letters = _value("mobius_requests_total", **failed), _value("mobius_dead_letters_total")
    await _pipeline(FakeCompleter(fail=LLMError("provider_unavailable", "down"))).handle(encode_query(QUERY))
    await _pipeline(FakeCompleter()).handle(b"not avro")
    assert _value("mobius_requests_total", **failed) == before + 1
    assert _value("mobius_dead_letters_total") == letters + 1


def test_alerts_count_by_kind() -> None:
    before = _value("mobius_alerts_total", kind="group_saturated")
    alert_record("mobius.alerts", "group_saturated", "fast", "full", "w1")
    assert _value("mobius_alerts_total", kind="group_saturated") == before + 1
