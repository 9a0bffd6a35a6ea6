"""LiteLLM's pre-call window check is skipped only for prompts that fit everywhere they could go:
a prompt too long for one deployment of its group still never reaches that deployment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infra.ports import pick_free_port
from infra.simulator.launcher import Simulator
from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.attempts import AttemptLog
from routing.llm_gateway import UNCHECKED_WINDOW_SHARE, LLMGateway
from routing.router_config import load_router_config
from routing.tokens import count_tokens

# LiteLLM's Router in this process: pydantic warns about LiteLLM's TypedDicts, and aiohttp about
# the megabyte bodies this test sends (warnings are errors in this suite).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Item.*ReadOnly:UserWarning"),
    pytest.mark.filterwarnings("ignore:Sending a large body directly"),
]


@pytest.fixture
async def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LLMGateway]:
    simulator = Simulator(pick_free_port(), tmp_path / "simulator")
    simulator.start(latency_scale=0.01)
    try:  # a failure building the gateway must not leave the simulator running
        for name, value in simulator.provider_env().items():
            monkeypatch.setenv(name, value)  # the config's os.environ/ references, read at Router build
        gateway = LLMGateway(load_router_config(DEFAULT_ROUTER_CONFIG), AttemptLog())
        yield gateway
        await gateway.aclose()  # its HTTP session belongs to this test's loop
    finally:
        simulator.stop()


def test_default_config_skips_the_check_below_half_the_smallest_reachable_window(gateway: LLMGateway) -> None:
    # fast and long-context can fall back to smart, whose gpt-4o holds 128k tokens.
    assert gateway._unchecked_max_tokens["fast"] == int(128_000 * UNCHECKED_WINDOW_SHARE)
    assert gateway._unchecked_max_tokens["long-context"] == int(128_000 * UNCHECKED_WINDOW_SHARE)


async def test_a_prompt_beyond_one_deployments_window_is_never_sent_to_it(gateway: LLMGateway) -> None:
    # ~300k tokens: gpt-4.1-mini (1M) holds it, claude-haiku-4-5 (200k) does not. Without the
    # check, simple-shuffle would send about half of these to haiku and fail.
    messages = [{"role": "user", "content": "lorem ipsum dolor sit amet " * 45_000}]
    tokens = count_tokens(messages)
    assert 200_000 < tokens < 1_000_000
    for n in range(8):
        result = await gateway.complete(f"long-{n}", "long-context", messages, 64, prompt_tokens=tokens)
        assert result.attempted_models == ("openai/gpt-4.1-mini",), result.attempted_models
