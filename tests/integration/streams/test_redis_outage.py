"""Redis stopped and restarted mid-run: no worker crashes, budgets fail closed (the default), and
everything works again once Redis is back."""

from __future__ import annotations

import asyncio

from mobius.settings import MobiusSettings
from mobius.stack import LocalStack
from schemas.events import ReplyEvent
from streams.client import MobiusClient
from tests.support.pipeline import running_pipeline, wait_until_serving


def test_redis_down_refuses_paid_calls_and_recovers(stack_settings: MobiusSettings) -> None:
    redis = LocalStack(stack_settings).redis
    assert redis is not None
    with running_pipeline(stack_settings) as pipeline:

        async def scenario() -> tuple[ReplyEvent, list[ReplyEvent], list[ReplyEvent]]:
            async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
                await wait_until_serving(client)
                before = await client.ask(
                    [{"role": "user", "content": "Is Redis up? (1)"}], user_id="r", tier="pro"
                )
                await asyncio.to_thread(redis.stop)
                try:
                    during = await asyncio.gather(
                        *(
                            client.ask(
                                [{"role": "user", "content": f"Is Redis down? ({i})"}],
                                user_id=f"d{i}",
                                tier="pro",
                                timeout=60,
                            )
                            for i in range(5)
                        )
                    )
                finally:
                    await asyncio.to_thread(redis.start)
                after = []
                async with asyncio.timeout(60):  # recovery is automatic: no restart of the worker
                    while not after or after[-1].status != "ok":
                        after.append(
                            await client.ask(
                                [{"role": "user", "content": f"Is Redis back? ({len(after)})"}],
                                user_id="a",
                                tier="pro",
                                timeout=60,
                            )
                        )
            return before, during, after

        before, during, after = asyncio.run(scenario())
        assert pipeline.workers[0].process.is_running(), pipeline.workers[0].process.log_tail()

    assert before.status == "ok"
    assert {(r.status, r.error_code) for r in during} == {("error", "budget_unavailable")}
    assert after[-1].status == "ok" and after[-1].cost_nano_usd > 0
