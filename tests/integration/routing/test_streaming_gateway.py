"""Streamed answers through LiteLLM's real Router and the simulator's real SSE formats: the same
text, usage and exact cost as the same answer unstreamed, for OpenAI and Anthropic alike."""

from __future__ import annotations

import pytest

from infra.simulator.launcher import Simulator
from routing.llm_gateway import LLMGateway
from routing.outcomes import LLMError

# LiteLLM in this process: pydantic warns about its TypedDicts and, while it reads a stream, about
# an attribute its chunks touch (warnings are errors in this suite).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Item.*ReadOnly:UserWarning"),
    pytest.mark.filterwarnings("ignore:Accessing the .model_.*fields. attribute"),
]
QUESTION = [{"role": "user", "content": "Why does the moon show phases as it goes round the earth?"}]
OTHER = {"openai": "anthropic", "anthropic": "openai"}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_streamed_answer_is_the_unstreamed_one_in_pieces_at_the_same_cost(
    gateway: LLMGateway, simulator: Simulator, provider: str
) -> None:
    simulator.controls(down=[OTHER[provider]])  # the group's other deployment stays out of it
    whole = await gateway.complete("r-plain", "smart", QUESTION, 400)
    pieces: list[str] = []

    async def sink(text: str) -> None:
        pieces.append(text)

    streamed = await gateway.complete("r-stream", "smart", QUESTION, 400, on_text=sink)
    assert streamed.provider == whole.provider == provider
    assert len(pieces) > 5 and "".join(pieces) == streamed.content == whole.content
    assert streamed.prompt_tokens == whole.prompt_tokens
    assert streamed.completion_tokens == whole.completion_tokens
    assert streamed.cost_nano_usd == whole.cost_nano_usd > 0


async def test_a_deployment_failing_before_the_first_piece_falls_back_unseen(
    gateway: LLMGateway, simulator: Simulator
) -> None:
    simulator.controls(down=["anthropic"])  # smart's Anthropic deployment: tried, fails, never seen
    pieces: list[str] = []

    async def sink(text: str) -> None:
        pieces.append(text)

    # The shuffle picks Anthropic first on some calls only: call until it has (bounded), each
    # answer whole and from OpenAI, with nothing of the failed attempt in the stream.
    for i in range(40):
        pieces.clear()
        result = await gateway.complete(f"r-{i}", "smart", QUESTION, 400, on_text=sink)
        assert result.provider == "openai" and "".join(pieces) == result.content
        if simulator.requests().get("claude-sonnet-4-5", {}).get("outage", 0) >= 1:
            break
    assert simulator.requests()["claude-sonnet-4-5"]["outage"] >= 1


async def test_a_stream_cut_after_its_first_pieces_is_an_error_not_a_fallback(
    gateway: LLMGateway, simulator: Simulator
) -> None:
    simulator.controls(stream_cut_after={"openai": 2, "anthropic": 2})
    pieces: list[str] = []

    async def sink(text: str) -> None:
        pieces.append(text)

    with pytest.raises(LLMError) as caught:
        await gateway.complete("r-cut", "smart", QUESTION, 400, on_text=sink)
    assert caught.value.code == "stream_interrupted"
    assert len(pieces) == 2
