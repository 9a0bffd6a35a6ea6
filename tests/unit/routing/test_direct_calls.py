"""Which attempts the direct path makes itself, and the HTTP request it builds for each provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import litellm
import pytest

from routing.direct_calls import DirectCalls
from routing.litellm_trims import PRICED_BY_CALLER


def attempt(model: str = "openai/gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    """An attempt's arguments as LiteLLM's Router hands them to its host."""
    return {
        "model": model,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 50,
        "api_key": "sk-test",
        "api_base": "http://provider.test/v1" if model.startswith("openai/") else "http://provider.test",
        "caching": False,
        "client": None,
        "stream": False,
        "timeout": 30.0,
        "max_retries": 0,
        "rpm": 600,
        "model_info": {"id": "d1"},
        "metadata": {PRICED_BY_CALLER: True, "model_group": "fast"},
    } | extra


@pytest.fixture
def calls() -> Iterator[DirectCalls]:
    # LiteLLM's callback lists are process-wide: earlier tests' calls leave theirs behind.
    lists = (
        litellm.callbacks,
        litellm.success_callback,
        litellm._async_success_callback,
        litellm.input_callback,
    )
    saved = [list(callbacks) for callbacks in lists]
    for callbacks in lists:
        callbacks.clear()
    yield DirectCalls()
    for callbacks, before in zip(lists, saved, strict=True):
        callbacks[:] = before


def test_an_openai_attempt_is_one_post_in_openais_format(calls: DirectCalls) -> None:
    plan = calls.plain_attempt(attempt())
    assert plan is not None
    assert plan.url == "http://provider.test/v1/chat/completions"
    assert plan.headers["Authorization"] == "Bearer sk-test"
    assert plan.body == {"model": "gpt-4o-mini", "messages": attempt()["messages"], "max_tokens": 50}
    assert plan.timeout_s == 30.0


def test_an_anthropic_attempt_is_one_post_in_anthropics_format(calls: DirectCalls) -> None:
    plan = calls.plain_attempt(attempt("anthropic/claude-haiku-4-5"))
    assert plan is not None
    assert plan.url == "http://provider.test/v1/messages"
    assert plan.headers["x-api-key"] == "sk-test" and "anthropic-version" in plan.headers
    assert plan.body["system"] == [{"type": "text", "text": "Be brief."}]  # LiteLLM moves it out
    assert [m["role"] for m in plan.body["messages"]] == ["user"]
    assert plan.body["max_tokens"] == 50


def test_a_deployment_without_a_base_url_uses_the_environments_then_the_providers(
    calls: DirectCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_BASE", "http://from-env.test/v1")
    plan = calls.plain_attempt(attempt(api_base=None))
    assert plan is not None and plan.url == "http://from-env.test/v1/chat/completions"
    monkeypatch.delenv("OPENAI_API_BASE")
    plan = calls.plain_attempt(attempt(api_base=None))
    assert plan is not None and plan.url == "https://api.openai.com/v1/chat/completions"


@pytest.mark.parametrize(
    "changes",
    [
        {"stream": True},
        {"caching": True},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"response_format": {"type": "json_object"}},
        {"metadata": {"model_group": "fast"}},  # not priced by the caller: LiteLLM prices it
        {"model": "gemini/gemini-2.0-flash"},
        {"timeout": None},
    ],
    ids=["stream", "caching", "tools", "response_format", "unpriced", "other_provider", "no_timeout"],
)
def test_an_attempt_the_path_cannot_make_as_litellm_would_goes_to_litellm(
    calls: DirectCalls, changes: dict[str, Any]
) -> None:
    assert calls.plain_attempt(attempt(**changes)) is None


def test_a_logging_callback_the_operator_added_sends_every_attempt_to_litellm(calls: DirectCalls) -> None:
    assert calls.plain_attempt(attempt()) is not None
    litellm.success_callback.append(lambda *args: None)
    assert calls.plain_attempt(attempt()) is None
