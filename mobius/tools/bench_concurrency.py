"""The benchmark's concurrency phase: the highest open-loop rate one worker holds at a given
provider latency without its consumer lag growing."""

from __future__ import annotations

import asyncio
import time

from mobius.settings import MobiusSettings
from mobius.tools.bench_load import TIER, question
from streams.client import MobiusClient
from streams.topics import LagProbe

# From 25: a slow machine (the bare Router at ~20 ms of CPU a call) holds less than 50.
RATES = (25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500)


async def max_rate_without_lag_growth(settings: MobiusSettings, client: MobiusClient, seconds: float) -> int:
    """Rising open-loop rates at 1 s provider latency; the highest whose lag stops growing.

    Lag here is what Kafka tools show: end offsets minus the group's committed offsets. A worker
    that keeps up holds it steady, a sawtooth between rate x latency (just after a commit) and one
    commit interval more; one that does not adds (rate - capacity) every second. So each step
    publishes for `step` seconds and compares the sawtooth's floor (the least lag) over the two
    last thirds: the rate is sustained when the floor grew by under 10% of the arrivals between
    them. Every step's backlog drains before the next step or phase.
    """
    step = max(6.0, seconds / 3)
    probe = LagProbe(settings.kafka, settings.worker_group, settings.topics.inputs())
    await probe.start()
    sustained = 0
    try:
        for rate in RATES:
            samples = await _publish_and_sample(client, probe, rate, step)
            growing = lag_floor_growth(samples, step) > 0.1 * rate * step / 3
            if not await _drained(probe, timeout_s=180) or growing:
                break
            sustained = rate
    finally:
        await probe.stop()
    return sustained


async def _publish_and_sample(
    client: MobiusClient, probe: LagProbe, rate: float, seconds: float
) -> list[tuple[float, int]]:
    samples: list[tuple[float, int]] = []

    async def sample() -> None:
        while True:
            samples.append((time.perf_counter(), await probe.lag()))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    sends = []
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        sends.append(asyncio.create_task(client.publish(question(i), user_id=f"bench-{i % 64}", tier=TIER)))
    await asyncio.gather(*sends)
    sampler.cancel()
    return samples


def lag_floor_growth(samples: list[tuple[float, int]], step: float) -> int:
    """How much the least lag grew from the middle third of a step to the last third."""
    if not samples:
        return 0
    t0 = samples[0][0]
    middle = [lag for t, lag in samples if step / 3 <= t - t0 < 2 * step / 3]
    last = [lag for t, lag in samples if t - t0 >= 2 * step / 3]
    return min(last) - min(middle) if middle and last else 0


async def _drained(probe: LagProbe, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await probe.lag() == 0:
            return True
        await asyncio.sleep(0.5)
    return False
