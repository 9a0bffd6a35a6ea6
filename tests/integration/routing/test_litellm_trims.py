"""The per-call work the gateway skips inside LiteLLM, and what must hold without it: exact costs
from LiteLLM's price map, and LiteLLM's own figures for every call the gateway did not mark."""

from __future__ import annotations

import litellm
import pytest
from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

from infra.simulator.launcher import Simulator
from routing.attempts import AttemptLog
from routing.litellm_trims import PRICED_BY_CALLER
from routing.llm_gateway import LLMGateway
from tests.support.router_configs import patient_config

pytestmark = [
    pytest.mark.filterwarnings("ignore:Item.*ReadOnly:UserWarning"),
    pytest.mark.filterwarnings("ignore:Accessing the .model_.*fields. attribute"),
]
QUESTION = [{"role": "user", "content": "What is the boiling point of water at sea level?"}]


def nano(usd: float) -> int:
    return round(usd * 10**9)


@pytest.mark.parametrize("provider,model", [("openai", "gpt-4o-mini"), ("anthropic", "claude-haiku-4-5")])
async def test_an_answer_costs_what_litellms_price_map_says_without_litellm_pricing_it(
    gateway: LLMGateway, simulator: Simulator, provider: str, model: str
) -> None:
    simulator.controls(down=[p for p in ("openai", "anthropic") if p != provider])
    result = await gateway.complete("r-priced", "fast", QUESTION, 200)
    assert result.model == f"{provider}/{model}"
    prompt_usd, completion_usd = litellm.cost_per_token(
        model=result.model, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens
    )
    assert result.cost_nano_usd == nano(prompt_usd + completion_usd) > 0

    marked = await gateway.router.acompletion(
        model="fast", messages=QUESTION, max_tokens=200, metadata={PRICED_BY_CALLER: True}
    )
    assert marked._hidden_params["response_cost"] is None  # the trim is in force: LiteLLM did not price it


async def test_a_call_the_gateway_did_not_mark_keeps_litellms_own_cost(
    gateway: LLMGateway, simulator: Simulator
) -> None:
    simulator.controls(down=["anthropic"])
    response = await gateway.router.acompletion(model="fast", messages=QUESTION, max_tokens=200)
    usage = response.usage
    prompt_usd, completion_usd = litellm.cost_per_token(
        model="openai/gpt-4o-mini",
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )
    assert response._hidden_params["response_cost"] == pytest.approx(prompt_usd + completion_usd)


async def test_a_config_that_reads_litellms_cost_keeps_it_for_the_gateways_calls(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in simulator.provider_env().items():
        monkeypatch.setenv(name, value)
    simulator.controls(down=["anthropic"])
    config = patient_config()
    deployments = [
        d.model_copy(
            update={"litellm_params": d.litellm_params | {"max_budget": 100.0, "budget_duration": "1d"}}
        )
        for d in config.model_list
    ]
    budgeted = LLMGateway(config.model_copy(update={"model_list": tuple(deployments)}), AttemptLog())
    assert PRICED_BY_CALLER not in budgeted._metadata
    try:
        result = await budgeted.complete("r-budget", "fast", QUESTION, 200)
    finally:
        await close_litellm_async_clients()
    assert result.cost_nano_usd > 0
