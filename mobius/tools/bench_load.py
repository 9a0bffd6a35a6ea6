"""Load shapes for the benchmark, whatever answers the requests (the pipeline, LiteLLM's proxy or
a bare Router): `ask(i)` sends request i and returns True when it was answered.

Open loop starts requests on a schedule whatever the answers do, so a slow system shows up as
latency instead of hiding as a lower rate; closed loop keeps N requests in flight and counts
how many finish: the highest rate the system sustains.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mobius.tools.stats import percentile
from schemas.vocabulary import Tier

Ask = Callable[[int], Awaitable[bool]]
TIER: Tier = "enterprise"  # no cache and roomy caps: every bench request reaches the provider


def question(i: int) -> list[dict[str, str]]:
    """A distinct question each time (nothing can be answered from a cache)."""
    return [{"role": "user", "content": f"bench question {uuid.uuid4().hex} {i}"}]


@dataclass(frozen=True)
class ClosedLoopResult:
    """What a closed-loop run answered, and in how long."""

    answered: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


async def open_loop(ask: Ask, rate: float, seconds: float) -> list[float]:
    """Latencies (ms) of the answered requests, `rate` started per second for `seconds`."""
    latencies: list[float] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        if await ask(i):
            latencies.append((time.perf_counter() - started) * 1000)

    tasks = []
    t0 = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies


async def closed_loop(ask: Ask, concurrency: int, seconds: float) -> ClosedLoopResult:
    """`concurrency` requests always in flight for `seconds`; how many were answered."""
    answered = 0
    counter = iter(range(1 << 62))
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal answered
        while time.perf_counter() < deadline:
            ok = await ask(next(counter))  # not `answered += await ...`: that reads before awaiting
            answered += ok

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return ClosedLoopResult(answered, time.perf_counter() - started)


def summarize(prefix: str, latencies_ms: list[float], provider_ms: float) -> dict[str, float]:
    """Overhead percentiles: what the system added to the provider's own latency."""
    overheads = [latency - provider_ms for latency in latencies_ms]
    return {
        f"{prefix}_p50_ms": round(percentile(overheads, 50), 1),
        f"{prefix}_p95_ms": round(percentile(overheads, 95), 1),
        f"{prefix}_p99_ms": round(percentile(overheads, 99), 1),
        f"{prefix}_samples": len(overheads),
    }
