"""Queries through the real pipeline: Kafka, a worker process, LiteLLM's Router, the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from mobius.settings import MobiusSettings
from schemas.events import QueryHints
from streams.client import MobiusClient
from tests.support.pipeline import Pipeline, serving_pipeline

SIMPLE = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def pipeline(stack_settings: MobiusSettings) -> Iterator[Pipeline]:
    with serving_pipeline(stack_settings) as running:
        yield running


@pytest.fixture
async def client(pipeline: Pipeline) -> AsyncIterator[MobiusClient]:
    pipeline.simulator.reset()
    pipeline.simulator.controls(latency_scale=0.02)
    async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as mobius:
        yield mobius


@pytest.mark.parametrize(
    ("content", "tier", "group", "query_type"),
    [
        ("What is the capital of France?", "free", "fast", "simple"),
        (
            "Two trains 300 km apart leave at 9:00 toward each other at 70 and 80 km/h. When do they meet?",
            "pro",
            "smart",
            "complex",
        ),
        ("Write a python function that merges two sorted lists", "pro", "code", "code"),
        (
            "Summarise this contract:\n" + "The party of the first part agrees. " * 2500,
            "pro",
            "long-context",
            "long_context",
        ),
        ("Write a python function that merges two sorted lists", "free", "fast", "code"),
    ],
    ids=["simple-free", "complex-pro", "code-pro", "long-document", "code-free-stays-fast"],
)
async def test_each_query_type_lands_in_its_group(
    client: MobiusClient, content: str, tier: str, group: str, query_type: str
) -> None:
    reply = await client.ask([{"role": "user", "content": content}], user_id="u1", tier=tier, timeout=60)  # type: ignore[arg-type]
    assert reply.status == "ok", reply.error_message
    assert reply.model_group == group
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert reply.cost_nano_usd > 0
    assert reply.content and reply.model and reply.model.split("/")[1] in reply.content


async def test_enterprise_may_name_its_group_and_others_may_not(client: MobiusClient) -> None:
    hints = QueryHints(model_group="smart")
    enterprise = await client.ask(SIMPLE, user_id="e", tier="enterprise", hints=hints, timeout=60)
    free = await client.ask(SIMPLE, user_id="f", tier="free", hints=hints, timeout=60)
    assert enterprise.model_group == "smart"
    assert free.model_group == "fast"


async def test_a_failing_provider_is_cooled_down_and_fallbacks_answer(
    client: MobiusClient, pipeline: Pipeline
) -> None:
    pipeline.simulator.controls(down=["anthropic"])

    def question(i: int) -> list[dict[str, str]]:  # distinct, so the response cache stays out of it
        return [
            {
                "role": "user",
                "content": f"Prove that the product of {i + 2} consecutive integers is divisible by {i + 2}!",
            }
        ]

    replies = await asyncio.gather(
        *(client.ask(question(i), user_id=f"u{i}", tier="pro", timeout=60) for i in range(12))
    )
    assert all(r.status == "ok" for r in replies), [r.error_message for r in replies]
    assert all(r.model is not None and r.model.startswith("openai/") for r in replies)
    outages = pipeline.simulator.requests().get("claude-sonnet-4-5", {}).get("outage", 0)
    assert outages >= 1  # the dead deployment was tried...
    # ...by the burst in flight at once, then cooled down: far fewer tries than requests...
    assert outages < len(replies)
    later = await asyncio.gather(
        *(client.ask(question(100 + i), user_id="late", tier="pro", timeout=60) for i in range(6))
    )
    assert all(r.status == "ok" for r in later)
    # ...and, while cooling down, not tried at all.
    assert pipeline.simulator.requests()["claude-sonnet-4-5"]["outage"] == outages


async def test_rate_limited_deployments_are_retried_elsewhere(
    client: MobiusClient, pipeline: Pipeline
) -> None:
    pipeline.simulator.controls(rpm={"gpt-4o-mini": 2, "claude-haiku-4-5": 2})
    replies = await asyncio.gather(
        *(
            client.ask(
                [{"role": "user", "content": f"What is {i} plus {i}?"}],
                user_id=f"r{i}",
                tier="pro",
                timeout=60,
            )
            for i in range(10)
        )
    )
    assert all(r.status == "ok" for r in replies), [r.error_message for r in replies]
    seen = pipeline.simulator.requests()
    limited = sum(seen.get(m, {}).get("rate_limited", 0) for m in ("gpt-4o-mini", "claude-haiku-4-5"))
    assert limited > 0, seen
    assert sum(seen.get(m, {}).get("ok", 0) for m in ("gpt-4o-mini", "claude-haiku-4-5")) <= 4
    assert any(r.model_group == "smart" for r in replies)  # fast: [smart] took the overflow


async def test_a_content_policy_refusal_gets_a_clear_error(client: MobiusClient) -> None:
    reply = await client.ask(
        [{"role": "user", "content": "[[policy-violation]] tell me"}], user_id="p", tier="pro", timeout=60
    )
    assert reply.status == "error"
    assert reply.error_code == "content_policy", reply.error_message


async def test_two_hundred_concurrent_asks_each_get_their_own_reply(client: MobiusClient) -> None:
    questions = [[{"role": "user", "content": f"What is {i} squared?"}] for i in range(200)]
    replies = await asyncio.gather(
        *(client.ask(q, user_id=f"user-{i % 17}", tier="free", timeout=90) for i, q in enumerate(questions))
    )
    assert len({r.request_id for r in replies}) == 200
    assert all(r.status == "ok" for r in replies)
    for i, reply in enumerate(replies):
        assert f"What is {i} squared?" in (reply.content or "")


async def test_tier_token_limits_clamp_output_and_refuse_long_prompts(
    client: MobiusClient, pipeline: Pipeline
) -> None:
    pipeline.simulator.controls(max_output_tokens=5000)  # the simulator would write up to 5000 tokens
    wordy = await client.ask(
        [{"role": "user", "content": "Tell me a very long story about the sea (clamp)."}],
        user_id="t1",
        tier="free",
        hints=QueryHints(max_tokens=4000),
        timeout=60,
    )
    assert wordy.status == "ok" and wordy.usage is not None
    assert wordy.usage.completion_tokens <= 512  # the free tier's max_output_tokens
    too_long = await client.ask(
        [{"role": "user", "content": "Please read: " + "word " * 40000}],
        user_id="t2",
        tier="free",
        timeout=60,
    )
    assert (too_long.status, too_long.error_code) == ("error", "prompt_too_long")
    assert "free tier allows 32000" in (too_long.error_message or "")
