"""Spend caps through the real pipeline with two workers sharing one organisation's budget."""

from __future__ import annotations

import asyncio
import uuid

from mobius.settings import MobiusSettings
from schemas.events import QueryHints, decode_alert
from streams.client import MobiusClient
from streams.stores.budgets import RedisBudgetStore
from streams.stores.connection import redis_client
from tests.support.pipeline import read_until, running_pipeline, topic_reader, wait_until_serving

CAP_USD = 0.01
# Distinct per request, so the response cache stays out of it.
QUESTION = "A bag has 5 red and 7 blue balls; I draw 3 without replacement. P(exactly 2 red)? ({})"


def test_two_workers_hold_an_org_cap_downgrade_near_it_and_refuse_at_it(
    stack_settings: MobiusSettings,
) -> None:
    org = f"org-{uuid.uuid4().hex[:6]}"
    with running_pipeline(stack_settings, workers=2) as pipeline:

        async def spend() -> tuple[list, int, int, list]:  # type: ignore[type-arg]
            redis = redis_client(pipeline.settings.redis)
            store = RedisBudgetStore(redis, near_cap_share=0.8)
            await store.set_limit("org", org, day_usd=CAP_USD, month_usd=None)
            async with (
                MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client,
                topic_reader(pipeline.settings, pipeline.settings.topics.alerts) as alerts_reader,
            ):
                await wait_until_serving(client)
                before = _provider_calls(pipeline.simulator.requests())
                replies = await asyncio.gather(
                    *(
                        client.ask(
                            [{"role": "user", "content": QUESTION.format(i)}],
                            user_id=f"user-{i}",
                            org_id=org,
                            tier="pro",
                            hints=QueryHints(max_tokens=100),
                            timeout=90,
                        )
                        for i in range(60)
                    )
                )
                calls = _provider_calls(pipeline.simulator.requests()) - before
                alerts = [decode_alert(r.value or b"") for r in await read_until(alerts_reader, 2)]
            day_keys = [k async for k in redis.scan_iter(match=f"mobius:spend:org:{org}:????-??-??")]
            spent = int(await redis.get(day_keys[0]))
            await redis.aclose()
            return replies, calls, spent, alerts

        replies, calls, spent, alerts = asyncio.run(spend())

    ok = [r for r in replies if r.status == "ok"]
    refused = [r for r in replies if r.status == "error"]
    assert ok and refused, "the cap should admit some and refuse the rest"
    assert {r.error_code for r in refused} == {"budget_exceeded"}
    assert "resets at" in (refused[0].error_message or "") and f"org {org}" in (
        refused[0].error_message or ""
    )
    # Exact settlement: the counter holds what the answers cost, to the nano-dollar.
    assert spent == sum(r.cost_nano_usd for r in ok)
    # Never over the cap by more than one request's estimate (here: 100 output tokens at the dearest
    # smart price, $15/M, plus the prompt at $3/M).
    one_estimate = 100 * 15_000 + 40 * 3_000
    assert spent <= CAP_USD * 1e9 + one_estimate
    # Refused requests never reached a provider.
    assert calls == len(ok)
    # Near the cap, complex queries moved from smart to the cheaper fast group.
    assert {r.model_group for r in ok} == {"smart", "fast"}
    # One alert per level crossed, whichever worker saw it, however many requests were refused.
    assert sorted((a.kind, a.subject) for a in alerts) == [
        ("budget_exceeded", f"org:{org}"),
        ("budget_near_cap", f"org:{org}"),
    ]


def _provider_calls(requests: dict[str, dict[str, int]]) -> int:
    return sum(kinds.get("ok", 0) for kinds in requests.values())
