"""The response cache: a repeat is free and calls no provider; a burst of identical queries across
two workers makes one provider call."""

from __future__ import annotations

import asyncio
import uuid

from mobius.settings import MobiusSettings
from schemas.events import ReplyEvent
from streams.client import MobiusClient
from tests.support.pipeline import Pipeline, running_pipeline, wait_until_serving


def _calls(pipeline: Pipeline) -> int:
    return sum(kinds.get("ok", 0) for kinds in pipeline.simulator.requests().values())


def test_repeats_and_bursts_are_answered_from_the_cache(stack_settings: MobiusSettings) -> None:
    with running_pipeline(stack_settings, workers=2) as pipeline:

        async def scenario() -> tuple[ReplyEvent, ReplyEvent, list[ReplyEvent], int, int, ReplyEvent]:
            async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
                await wait_until_serving(client)
                tag = uuid.uuid4().hex[:6]
                question = [{"role": "user", "content": f"What is the tallest mountain? ({tag})"}]
                before = _calls(pipeline)
                first = await client.ask(question, user_id="a", tier="free", timeout=60)
                spaced = [{"role": "user", "content": f"  What is   the tallest mountain? ({tag}) "}]
                repeat = await client.ask(spaced, user_id="b", tier="free", timeout=60)
                after_repeat = _calls(pipeline)
                pipeline.simulator.controls(fixed_latency_ms=800)  # the burst overlaps one slow call
                burst_q = [{"role": "user", "content": f"Name a prime above 100 ({tag})"}]
                burst = await asyncio.gather(
                    *(client.ask(burst_q, user_id=f"user-{i}", tier="pro", timeout=60) for i in range(20))
                )
                after_burst = _calls(pipeline)
                enterprise = await client.ask(question, user_id="e", tier="enterprise", timeout=60)
                return first, repeat, burst, after_repeat - before, after_burst - after_repeat, enterprise

        first, repeat, burst, repeat_calls, burst_calls, enterprise = asyncio.run(scenario())

    assert (first.cache_hit, repeat.cache_hit) == (False, True)
    assert repeat.content == first.content and repeat.cost_nano_usd == 0 and first.cost_nano_usd > 0
    assert repeat_calls == 1  # whitespace does not make a new question
    assert burst_calls == 1
    assert all(r.status == "ok" and r.content == burst[0].content for r in burst)
    assert sum(r.cache_hit for r in burst) == 19
    assert not enterprise.cache_hit  # the enterprise tier has the cache off
