"""Streamed replies through the real pipeline: Kafka, a worker process, LiteLLM's Router and the
simulator's SSE streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import yaml

from mobius.settings import DEFAULT_ROUTER_CONFIG, MobiusSettings
from schemas.events import ReplyChunk, ReplyEvent
from streams.client import MobiusClient, StreamFailed
from tests.support.pipeline import Pipeline, serving_pipeline


@pytest.fixture(scope="module")
def pipeline(stack_settings: MobiusSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    # Tests take a deployment down: enough retries that the shuffle finds the other one every time.
    config = yaml.safe_load(DEFAULT_ROUTER_CONFIG.read_text())
    config["router_settings"]["num_retries"] = 8
    patient = tmp_path_factory.mktemp("router") / "router.yaml"
    patient.write_text(yaml.safe_dump(config))
    with serving_pipeline(stack_settings, router_config=patient) as running:
        yield running


@pytest.fixture
async def client(pipeline: Pipeline) -> AsyncIterator[MobiusClient]:
    pipeline.simulator.reset()
    pipeline.simulator.controls(latency_scale=0.05)
    async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as mobius:
        yield mobius


def _question(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def _streamed(
    client: MobiusClient, text: str, tier: str = "enterprise"
) -> tuple[list[ReplyChunk], ReplyEvent]:
    chunks: list[ReplyChunk] = []
    async for item in client.stream(_question(text), user_id="s1", tier=tier, timeout=60):  # type: ignore[arg-type]
        if isinstance(item, ReplyEvent):
            return chunks, item
        chunks.append(item)
    raise AssertionError("the stream ended without a reply")


async def test_chunks_arrive_in_order_then_a_reply_of_their_text_at_the_unstreamed_cost(
    client: MobiusClient, pipeline: Pipeline
) -> None:
    text = "Why do leaves change colour in autumn, and why do some trees keep theirs?"
    chunks, reply = await _streamed(client, text)
    assert reply.status == "ok" and not reply.cache_hit
    # The same answer unstreamed: the simulator answers a question the same way per model, and
    # the group shuffles its deployments, so ask (enterprise: no cache) until the same one answers.
    for _ in range(20):
        whole = await client.ask(_question(text), user_id="s0", tier="enterprise", timeout=60)
        if whole.model == reply.model:
            break
    # The first piece at once, then the rest joined (the simulator, sped up, sends them ms apart).
    assert len(chunks) >= 2 and [c.sequence for c in chunks] == list(range(len(chunks)))
    assert len(chunks[0].text.split()) == 1
    assert "".join(c.text for c in chunks) == reply.content == whole.content
    assert reply.usage == whole.usage and reply.model == whole.model
    assert reply.cost_nano_usd == whole.cost_nano_usd > 0


async def test_a_deployment_failing_before_the_first_token_falls_back_unseen(
    client: MobiusClient, pipeline: Pipeline
) -> None:
    pipeline.simulator.controls(latency_scale=0.05, down=["anthropic"])
    results = [
        await _streamed(client, f"Explain, in steps, why {n} squared is {n * n}.") for n in range(3, 9)
    ]
    for chunks, reply in results:
        assert reply.status == "ok" and reply.model is not None and reply.model.startswith("openai/")
        assert "".join(c.text for c in chunks) == reply.content
        assert [c.sequence for c in chunks] == list(range(len(chunks)))  # one stream, not restarted
    tried = pipeline.simulator.requests()
    assert sum(v.get("outage", 0) for v in tried.values()) >= 1  # Anthropic was tried and failed


async def test_a_failure_after_the_first_token_ends_the_stream_with_an_error(
    client: MobiusClient, pipeline: Pipeline
) -> None:
    pipeline.simulator.controls(latency_scale=0.05, stream_cut_after={"openai": 3, "anthropic": 3})
    chunks: list[ReplyChunk] = []
    with pytest.raises(StreamFailed) as failed:
        stream = client.stream(_question("Why is the sky blue at noon?"), user_id="s2", tier="enterprise")
        async for item in stream:
            assert isinstance(item, ReplyChunk)
            chunks.append(item)
    assert failed.value.reply.error_code == "stream_interrupted"
    # The three pieces sent before the cut, as chunks in order (the last ones joined).
    assert chunks and [c.sequence for c in chunks] == list(range(len(chunks)))
    assert len("".join(c.text for c in chunks).split()) == 3


async def test_a_cache_hit_streams_too(client: MobiusClient) -> None:
    text = "What is the boiling point of water at sea level?"
    first = await client.ask(_question(text), user_id="s3", tier="pro", timeout=60)
    chunks, reply = await _streamed(client, text, tier="pro")
    assert reply.cache_hit and reply.cost_nano_usd == 0
    assert len(chunks) > 1 and "".join(c.text for c in chunks) == reply.content == first.content
