"""Time to first token through the pipeline, beside the simulator's own, in one run.

Open loop of streamed queries (`client.stream`) with the simulator's first piece at a fixed
delay and the rest a few milliseconds apart: the pipeline's TTFT is the client's time from
publishing to the first ReplyChunk; the simulator's is request in -> first piece out, as it
measured itself. The difference is what the pipeline adds before the first token (two Kafka hops,
routing, LiteLLM's call setup).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from infra.simulator.launcher import Simulator
from mobius.tools.bench_load import TIER, question
from mobius.tools.stats import percentile
from schemas.events import ReplyChunk
from streams.client import AskTimeout, MobiusClient, StreamFailed

TTFT_RATE = 20.0  # streams per second: each is dozens of records on the reply topic
INTER_PIECE_MS = 2.0


async def bench_ttft(
    client: MobiusClient, simulator: Simulator, ttft_ms: int, seconds: float
) -> dict[str, Any]:
    """`ttft_p50_ms` / `ttft_p99_ms` through the pipeline and `simulator_ttft_*` beside them."""
    simulator.reset()
    simulator.controls(stream_ttft_ms=ttft_ms, inter_token_ms=INTER_PIECE_MS)
    firsts: list[float] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        first: float | None = None
        try:
            async for item in client.stream(question(i), user_id=f"ttft-{i % 64}", tier=TIER, timeout=60):
                if isinstance(item, ReplyChunk) and first is None:
                    first = (time.perf_counter() - started) * 1000
        except (AskTimeout, StreamFailed):
            return
        if first is not None:  # only streams that completed count
            firsts.append(first)

    tasks = []
    t0 = time.perf_counter()
    for i in range(int(TTFT_RATE * seconds)):
        await asyncio.sleep(max(0.0, t0 + i / TTFT_RATE - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    own = simulator.stream_ttfts_ms()
    simulator.reset()
    return {
        "ttft_p50_ms": round(percentile(firsts, 50), 1),
        "ttft_p99_ms": round(percentile(firsts, 99), 1),
        "simulator_ttft_p50_ms": round(percentile(own, 50), 1),
        "simulator_ttft_p99_ms": round(percentile(own, 99), 1),
        "ttft_samples": len(firsts),
    }
