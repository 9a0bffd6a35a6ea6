"""The benchmark's overload phase: enterprise latency when one worker is offered twice what it answers.

A worker of its own with `SLOTS` in flight, the simulator answering each call in
`LATENCY_MS`. First its capacity: closed loop, `PROBE_CONCURRENCY` asks always in flight, the
answers per second. Then two open-loop runs with the same enterprise rate (a fifth of it):

1. unloaded: half the capacity in all, 40% enterprise, 30% pro, 30% free;
2. overload: twice the capacity, 10% enterprise, 30% pro, 60% free.

`enterprise_p99_overload_ratio` is enterprise's p99 in run 2 over its p99 in run 1: near 1 when
the lanes work, while free absorbs the queueing (its p99 grows with the backlog). Latency is the
client's, publish to reply; every ask is awaited (the backlog drains after run 2) or times out.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Final

from infra.simulator.launcher import Simulator
from mobius.fleet import Worker
from mobius.settings import MobiusSettings
from mobius.tools.bench_load import closed_loop, open_loop, question
from mobius.tools.stats import percentile
from schemas.vocabulary import TIERS, Tier
from streams.client import AskTimeout, MobiusClient
from streams.config import TopicNames
from streams.topics import ensure_topics

# The worker's limit is its slots, as with real providers (seconds per call): 16 slots at 500 ms
# answer 32 queries a second, well within one core's CPU, so the lanes decide, not the CPU.
SLOTS: Final = 16
LATENCY_MS: Final = 500
PROBE_CONCURRENCY: Final = 2 * SLOTS
# Ten queries in a row, by tier: the shares of each run's mix.
UNLOADED_MIX: Final[tuple[Tier, ...]] = ("enterprise",) * 4 + ("pro",) * 3 + ("free",) * 3
OVERLOAD_MIX: Final[tuple[Tier, ...]] = ("enterprise",) + ("pro",) * 3 + ("free",) * 6


def lanes_settings(base: MobiusSettings) -> MobiusSettings:
    """The overload phase's own topics, group and slots on the bench's settings."""
    tag = uuid.uuid4().hex[:8]
    topics = TopicNames(**{name: f"bench-lanes-{tag}.{name}" for name in TopicNames.model_fields})
    return base.model_copy(
        update={"topics": topics, "worker_group": f"bench-lanes-{tag}", "worker_max_in_flight": SLOTS}
    )


def bench_lanes(base: MobiusSettings, simulator: Simulator, seconds: float) -> dict[str, Any]:
    settings = lanes_settings(base)
    asyncio.run(ensure_topics(settings.kafka, settings.topics.all()))
    worker = Worker(f"{settings.worker_group}-w", settings, simulator.provider_env())
    worker.start()
    try:
        return asyncio.run(_measure(settings, simulator, seconds))
    finally:
        worker.stop()


async def _measure(settings: MobiusSettings, simulator: Simulator, seconds: float) -> dict[str, Any]:
    timeout = 60 + 4 * seconds  # the free backlog of run 2 drains at the capacity after it
    async with MobiusClient(settings.kafka, settings.topics) as client:
        for tier in TIERS:  # the worker has joined and each lane's agent is reading
            await client.ask(question(-1), user_id="warm", tier=tier, timeout=120)
        simulator.controls(fixed_latency_ms=LATENCY_MS)
        probe = _Run(client, UNLOADED_MIX, timeout)
        await closed_loop(probe.ask, PROBE_CONCURRENCY, min(seconds, 5.0))  # warm, unmeasured
        capacity = (await closed_loop(probe.ask, PROBE_CONCURRENCY, seconds)).rate
        unloaded = _Run(client, UNLOADED_MIX, timeout)
        await open_loop(unloaded.ask, capacity / 2, seconds)
        overload = _Run(client, OVERLOAD_MIX, timeout)
        await open_loop(overload.ask, capacity * 2, seconds)
    calm = percentile(unloaded.latencies["enterprise"], 99)
    busy = percentile(overload.latencies["enterprise"], 99)
    result: dict[str, Any] = {
        "lanes_capacity_rps": round(capacity, 1),
        "lanes_overload_offered_rps": round(capacity * 2, 1),
        "enterprise_p99_unloaded_ms": round(calm, 1),
        "enterprise_p99_overload_ms": round(busy, 1),
        "enterprise_p99_overload_ratio": round(busy / calm, 3) if calm else 0.0,
        "enterprise_overload_samples": len(overload.latencies["enterprise"]),
        "lanes_unanswered": sum(run.unanswered for run in (unloaded, overload)),
    }
    for tier in ("pro", "free"):
        result[f"{tier}_p50_overload_ms"] = round(percentile(overload.latencies[tier], 50), 1)
        result[f"{tier}_p99_overload_ms"] = round(percentile(overload.latencies[tier], 99), 1)
    return result


class _Run:
    """One run's asks: the latencies (ms) of the answered ones by tier, and how many were not."""

    def __init__(self, client: MobiusClient, mix: tuple[Tier, ...], timeout: float) -> None:
        self.client = client
        self.mix = mix
        self.timeout = timeout
        self.latencies: dict[Tier, list[float]] = {tier: [] for tier in TIERS}
        self.unanswered = 0

    async def ask(self, i: int) -> bool:
        tier = self.mix[i % len(self.mix)]
        started = time.perf_counter()
        try:
            reply = await self.client.ask(
                question(i), user_id=f"bench-{tier}-{i % 64}", tier=tier, timeout=self.timeout
            )
        except AskTimeout:
            self.unanswered += 1
            return False
        if reply.status != "ok":
            self.unanswered += 1
            return False
        self.latencies[tier].append((time.perf_counter() - started) * 1000)
        return True
