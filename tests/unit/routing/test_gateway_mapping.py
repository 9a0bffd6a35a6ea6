"""How LiteLLM's responses and failures become our LLMResult and LLMError (no LiteLLM call)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
from litellm import exceptions as llm_errors
from litellm.types.router import RouterRateLimitError

from routing.attempts import FailedAttempt
from routing.errors import DEFAULT_RETRY_AFTER_S
from routing.llm_gateway import Deployment, Price, failure_of, result_of


def _response(model: str, headers: dict[str, Any], prompt: int = 100, completion: int = 20) -> Any:
    return SimpleNamespace(
        _hidden_params={"additional_headers": headers, "litellm_model_name": model, "model_id": "d1"},
        model=model,
        usage=SimpleNamespace(prompt_tokens=prompt, completion_tokens=completion),
        choices=[SimpleNamespace(message=SimpleNamespace(content="hello"))],
    )


def test_a_response_is_priced_exactly_and_names_who_answered() -> None:
    price = Price(Decimal("0.00000015"), Decimal("0.0000006"))  # gpt-4o-mini's USD per token
    result = result_of(_response("openai/gpt-4o-mini", {}), Deployment("fast", price, (), 42))
    assert (result.content, result.group, result.model, result.provider) == (
        "hello",
        "fast",
        "openai/gpt-4o-mini",
        "openai",
    )
    assert result.cost_nano_usd == 100 * 150 + 20 * 600
    assert (result.provider_latency_ms, result.fallbacks, result.attempted_models) == (
        42,
        0,
        ("openai/gpt-4o-mini",),
    )


def test_after_a_fallback_the_answering_group_and_every_attempt_are_kept() -> None:
    headers = {"x-litellm-model-group": "smart", "x-litellm-attempted-fallbacks": 1}
    failed = ("anthropic/claude-haiku-4-5", "openai/gpt-4o-mini")
    result = result_of(_response("openai/gpt-4o", headers), Deployment("fast", None, failed, 900))
    assert result.group == "smart"
    assert result.attempted_models == (*failed, "openai/gpt-4o")
    assert result.fallbacks == 2
    assert result.cost_nano_usd > 0  # priced from LiteLLM's map when the deployment is unknown


def test_a_failure_carries_the_first_attempts_code_and_every_model_tried() -> None:
    attempts = [
        FailedAttempt("anthropic/claude-haiku-4-5", "provider_unavailable"),
        FailedAttempt("openai/gpt-4o-mini", "rate_limited"),
    ]
    error = failure_of(RuntimeError("No deployments available\nmore"), attempts)
    assert (error.code, error.message) == ("provider_unavailable", "No deployments available")
    assert error.attempted_models == ("anthropic/claude-haiku-4-5", "openai/gpt-4o-mini")


def test_without_recorded_attempts_the_exception_decides_the_code() -> None:
    exc = llm_errors.ContentPolicyViolationError("refused", model="gpt-4o", llm_provider="openai")
    assert failure_of(exc, []).code == "content_policy"


def _rate_limit(retry_after: str | None) -> Exception:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    response = httpx.Response(429, headers=headers, request=httpx.Request("POST", "http://provider.test"))
    return llm_errors.RateLimitError("slow down", "openai", "gpt-4o-mini", response=response)


def test_capacity_failures_say_when_to_try_again() -> None:
    limited = [FailedAttempt("openai/gpt-4o-mini", "rate_limited"), FailedAttempt("x/y", "rate_limited")]
    assert failure_of(_rate_limit("7"), limited).retry_after_s == 7.0
    assert failure_of(_rate_limit(None), limited).retry_after_s == DEFAULT_RETRY_AFTER_S
    cooled = RouterRateLimitError("fast", cooldown_time=12.5, enable_pre_call_checks=True, cooldown_list=[])
    error = failure_of(cooled, [])
    assert (error.code, error.retry_after_s) == ("rate_limited", 12.5)


def test_a_failure_that_is_not_only_capacity_is_not_waited_for() -> None:
    mixed = [FailedAttempt("a/b", "rate_limited"), FailedAttempt("c/d", "provider_unavailable")]
    assert failure_of(_rate_limit("7"), mixed).retry_after_s is None
    assert failure_of(RuntimeError("boom"), []).retry_after_s is None
