"""Killing a worker (SIGKILL) with queries in flight loses none: another worker answers them."""

from __future__ import annotations

import asyncio

from infra.simulator.launcher import Simulator
from mobius.settings import MobiusSettings
from schemas.events import ReplyEvent
from streams.client import MobiusClient
from tests.support.pipeline import Pipeline, running_pipeline, wait_until_serving

IN_FLIGHT = 80


def _started(simulator: Simulator) -> int:
    return sum(sum(kinds.values()) for kinds in simulator.requests().values())


def test_kill_9_with_queries_in_flight_loses_none(stack_settings: MobiusSettings) -> None:
    with running_pipeline(stack_settings) as pipeline:
        replies = asyncio.run(_ask_through_a_crash(pipeline, pipeline.simulator))
    assert sorted(r.status for r in replies) == ["ok"] * IN_FLIGHT, {
        (r.error_code, r.error_message) for r in replies
    }
    assert len({r.request_id for r in replies}) == IN_FLIGHT
    for i, reply in enumerate(replies):
        assert f"question {i}" in (reply.content or "")


async def _ask_through_a_crash(pipeline: Pipeline, simulator: Simulator) -> list[ReplyEvent]:
    first = pipeline.workers[0]
    async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
        await wait_until_serving(client)
        simulator.reset()
        simulator.controls(fixed_latency_ms=2000)
        asks = [
            asyncio.create_task(
                client.ask(
                    [{"role": "user", "content": f"question {i}"}],
                    user_id=f"u{i % 9}",
                    tier="free",
                    timeout=120,
                )
            )
            for i in range(IN_FLIGHT)
        ]
        async with asyncio.timeout(60):  # the worker has taken them and is waiting on the provider
            while _started(simulator) < IN_FLIGHT // 2:
                await asyncio.sleep(0.05)
        first.kill()
        assert not any(task.done() for task in asks), "replies came back before the kill"
        simulator.controls(fixed_latency_ms=None, latency_scale=0.02)
        pipeline.add_worker()
        return await asyncio.gather(*asks)
