"""The direct attempt path against the provider simulator: the same answers, the same LiteLLM
errors and the same Router behaviour as LiteLLM's full call, on both providers' HTTP formats."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import litellm
import pytest
from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

from infra.ports import pick_free_port
from infra.simulator.behaviour import CONTENT_POLICY_MARKER
from infra.simulator.launcher import Simulator
from routing.attempts import AttemptLog
from routing.direct_calls import DirectCalls
from routing.litellm_trims import PRICED_BY_CALLER
from routing.llm_gateway import LLMGateway
from routing.outcomes import LLMError
from routing.router_config import RouterConfig
from tests.support.router_configs import patient_config

pytestmark = [
    pytest.mark.filterwarnings("ignore:Item.*ReadOnly:UserWarning"),
    pytest.mark.filterwarnings("ignore:Accessing the .model_.*fields. attribute"),
    pytest.mark.filterwarnings("ignore:Pydantic serializer warnings"),
    # LiteLLM's own call sends a long prompt as one bytes body, which aiohttp warns about.
    pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning"),
]
QUESTION = [
    {"role": "system", "content": "Answer in one line."},
    {"role": "user", "content": "What is the boiling point of water at sea level?"},
]
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}


def fresh_deployments(config: RouterConfig) -> RouterConfig:
    """The config with deployment ids of its own: no cooldown an earlier test left applies to it."""
    tag = uuid.uuid4().hex[:8]
    fresh = tuple(
        d.model_copy(update={"model_info": {"id": f"{tag}-{n}"}}) for n, d in enumerate(config.model_list)
    )
    return config.model_copy(update={"model_list": fresh})


@pytest.fixture
def fast_provider(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """The simulator reset and quick, and the config's os.environ/ references pointing at it."""
    simulator.reset()
    simulator.controls(latency_scale=0.01)
    for name, value in simulator.provider_env().items():
        monkeypatch.setenv(name, value)
    return simulator


@pytest.fixture
async def calls() -> AsyncIterator[DirectCalls]:
    direct = DirectCalls()
    yield direct
    await direct.aclose()
    await close_litellm_async_clients()


def attempt_kwargs(
    simulator: Simulator, provider: str, messages: list[dict[str, str]], **extra: Any
) -> dict[str, Any]:
    """An attempt's arguments as LiteLLM's Router hands them to its host."""
    env = simulator.provider_env()
    return {
        "model": f"{provider}/{MODELS[provider]}",
        "messages": messages,
        "max_tokens": 100,
        "api_key": env[f"{provider.upper()}_API_KEY"],
        "api_base": env[f"{provider.upper()}_API_BASE"],
        "caching": False,
        "client": None,
        "stream": False,
        "timeout": 30.0,
        "max_retries": 0,
        "model_info": {"id": f"deployment-{provider}"},
        "metadata": {PRICED_BY_CALLER: True, "model_group": "fast"},
    } | extra


async def both_ways(calls: DirectCalls, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(LiteLLM's full call, the direct path) on the same arguments: each a response or an error."""
    outcomes: list[Any] = []
    for call in (litellm.acompletion, calls.acompletion):
        try:
            outcomes.append(await call(**kwargs))
        except Exception as exc:  # noqa: BLE001 - the error is what is compared
            outcomes.append(exc)
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_an_answer_reads_as_litellm_reads_it(
    simulator: Simulator, calls: DirectCalls, provider: str
) -> None:
    simulator.reset()
    full, direct = await both_ways(calls, attempt_kwargs(simulator, provider, QUESTION))
    assert calls.direct == 1 and calls.delegated == 0
    assert direct.choices[0].message.content == full.choices[0].message.content
    assert direct.choices[0].finish_reason == full.choices[0].finish_reason == "stop"
    assert (direct.usage.prompt_tokens, direct.usage.completion_tokens) == (
        full.usage.prompt_tokens,
        full.usage.completion_tokens,
    )
    assert direct.model == full.model
    for key in ("model_id", "litellm_model_name", "api_base"):
        assert direct._hidden_params[key] == full._hidden_params[key]


FAILURES = {
    "context_window": ({}, "x " * 700_000),
    "content_policy": ({}, f"{CONTENT_POLICY_MARKER} tell me"),
    "rate_limited": ({"rpm": {m: 0 for m in MODELS.values()}}, "hello"),
    "outage": ({"down": list(MODELS)}, "hello"),
    "server_error": ({"error_rate": {p: 1.0 for p in MODELS}}, "hello"),
}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_a_provider_failure_raises_the_error_litellm_raises(
    simulator: Simulator, calls: DirectCalls, provider: str, failure: str
) -> None:
    simulator.reset()
    controls, prompt = FAILURES[failure]
    if controls:
        simulator.controls(**controls)
    full, direct = await both_ways(
        calls, attempt_kwargs(simulator, provider, [{"role": "user", "content": prompt}])
    )
    assert calls.direct == 1
    assert isinstance(full, Exception) and isinstance(direct, Exception)
    assert type(direct) is type(full)
    assert getattr(direct, "status_code", None) == getattr(full, "status_code", None)
    if failure == "rate_limited":  # what the gateway reads to say when to come back
        assert direct.response.headers.get("retry-after") == full.response.headers.get("retry-after")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_an_unreachable_provider_fails_as_litellms_call_does(
    simulator: Simulator, calls: DirectCalls, provider: str
) -> None:
    closed = f"http://127.0.0.1:{pick_free_port()}"
    kwargs = attempt_kwargs(simulator, provider, QUESTION, api_base=closed)
    full, direct = await both_ways(calls, kwargs)
    assert isinstance(full, litellm.InternalServerError)  # LiteLLM reports it as the provider's 500
    assert type(direct) is type(full) and direct.status_code == full.status_code == 500


async def test_a_slow_provider_times_out_as_litellms_call_does(
    simulator: Simulator, calls: DirectCalls
) -> None:
    simulator.reset()
    simulator.controls(fixed_latency_ms=3000)
    kwargs = attempt_kwargs(simulator, "openai", QUESTION, timeout=0.3)
    full, direct = await both_ways(calls, kwargs)
    assert isinstance(full, litellm.Timeout) and isinstance(direct, litellm.Timeout)


async def test_the_router_retries_another_deployment_and_notes_the_failed_one(
    fast_provider: Simulator,
) -> None:
    fast_provider.controls(down=["anthropic"])
    gateway = LLMGateway(fresh_deployments(patient_config()), AttemptLog())
    try:
        results = [
            await gateway.complete(f"r-{n}", "fast", QUESTION, 100, prompt_tokens=30) for n in range(6)
        ]
    finally:
        await gateway.aclose()
        await close_litellm_async_clients()
    assert all(r.model == "openai/gpt-4o-mini" for r in results)
    retried = [r for r in results if r.attempted_models[0] == "anthropic/claude-haiku-4-5"]
    assert retried, "the shuffle never picked the down deployment in six calls; the failure went unnoted"
    assert gateway.direct_calls.delegated == 0 and gateway.direct_calls.direct >= 6 + len(retried)
    assert all(r.cost_nano_usd > 0 for r in results)


async def test_a_context_window_failure_falls_back_as_configured(
    fast_provider: Simulator,
) -> None:
    gateway = LLMGateway(patient_config(), AttemptLog())
    # gpt-4o-mini and claude-haiku hold 128k and 200k tokens: fast cannot, long-context (1M) can.
    long_prompt = [{"role": "user", "content": "word " * 250_000}]
    try:
        result = await gateway.complete("r-long", "fast", long_prompt, 50, prompt_tokens=250_000)
    except LLMError as error:
        pytest.fail(f"no fallback answered: {error}")
    finally:
        await gateway.aclose()
        await close_litellm_async_clients()
    assert result.model == "openai/gpt-4.1-mini"
    assert result.group == "long-context"
    assert gateway.direct_calls.direct >= 1


async def test_calls_the_gateway_does_not_price_and_callers_it_cannot_serve_go_to_litellm(
    simulator: Simulator, calls: DirectCalls
) -> None:
    simulator.reset()
    unpriced = attempt_kwargs(simulator, "openai", QUESTION, metadata={"model_group": "fast"})
    response = await calls.acompletion(**unpriced)
    assert response._hidden_params.get("response_cost") is not None  # LiteLLM's own call priced it
    tools = [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    ]
    await calls.acompletion(**attempt_kwargs(simulator, "openai", QUESTION, tools=tools))
    assert (calls.direct, calls.delegated) == (0, 2)


async def test_answers_count_against_a_deployments_tpm_limit(
    fast_provider: Simulator,
) -> None:
    config = fresh_deployments(patient_config())
    tight = tuple(
        d.model_copy(update={"litellm_params": d.litellm_params | {"tpm": 100}})
        if d.model_name == "fast"
        else d
        for d in config.model_list
    )
    no_fallbacks = config.router_settings | {"fallbacks": [], "num_retries": 0}
    gateway = LLMGateway(
        config.model_copy(update={"model_list": tight, "router_settings": no_fallbacks}), AttemptLog()
    )
    answered = 0
    try:
        with pytest.raises(LLMError) as refused:  # each answer is ~25 tokens: both fill within ~8
            for n in range(40):  # a minute's turn resets the counts once at most
                await gateway.complete(f"r-tpm-{n}", "fast", QUESTION, 20, prompt_tokens=30)
                answered += 1
    finally:
        await gateway.aclose()
        await close_litellm_async_clients()
    assert refused.value.code == "rate_limited"
    assert 4 <= answered < 40 and gateway.direct_calls.direct >= answered


async def test_the_switch_off_sends_every_attempt_through_litellm(
    fast_provider: Simulator,
) -> None:
    config = patient_config()
    off = config.model_copy(
        update={"mobius": config.mobius.model_copy(update={"direct_provider_calls": False})}
    )
    gateway = LLMGateway(off, AttemptLog())
    try:
        result = await gateway.complete("r-off", "fast", QUESTION, 50, prompt_tokens=30)
    finally:
        await gateway.aclose()
        await close_litellm_async_clients()
    assert result.cost_nano_usd > 0
    assert (gateway.direct_calls.direct, gateway.direct_calls.delegated) == (0, 0)  # its host was LiteLLM's
