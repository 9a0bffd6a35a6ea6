"""Time to first token through the pipeline, beside the simulator's own, in one run.

Open loop of streamed queries (`client.stream`) with the simulator's first piece at a fixed
delay and the rest a few milliseconds apart: the pipeline's TTFT is the client's time from
publishing to the first ReplyChunk; the simulator's is request in -> first piece out, as it
measured itself. The difference is what the pipeline adds before the first token (two Kafka hops,
routing, LiteLLM's call setup).

The rate is one a worker holds: a stream costs the worker ~3x an unstreamed answer's CPU
(`worker_cpu_ms_per_stream`, mostly LiteLLM's per-chunk stream wrapper), so at 20 streams/s one
worker on this 2-core machine saturates and TTFT measures its queue, not the pipeline. A few
streams first warm LiteLLM's streaming path (its lazy imports), as the closed-loop runs start warm.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from infra.simulator.launcher import Simulator
from mobius.tools.bench_load import TIER, question
from mobius.tools.stats import percentile
from schemas.events import ReplyChunk
from streams.client import AskTimeout, MobiusClient, StreamFailed

TTFT_RATE = 10.0  # streams per second
INTER_PIECE_MS = 2.0
WARM_STREAMS = 10


async def bench_ttft(
    client: MobiusClient,
    simulator: Simulator,
    ttft_ms: int,
    seconds: float,
    worker_cpu: Callable[[], float] = lambda: 0.0,
) -> dict[str, Any]:
    """`ttft_p50_ms` / `ttft_p99_ms` through the pipeline and `simulator_ttft_*` beside them;
    `worker_cpu` gives the worker's CPU seconds so far."""
    simulator.reset()
    simulator.controls(stream_ttft_ms=ttft_ms, inter_token_ms=INTER_PIECE_MS)
    firsts: list[float] = []

    async def drain(i: int) -> None:
        with contextlib.suppress(AskTimeout, StreamFailed):
            async for _ in client.stream(question(i), user_id="ttft-warm", tier=TIER, timeout=60):
                pass

    await asyncio.gather(*(drain(-2 - i) for i in range(WARM_STREAMS)))
    warm = len(simulator.stream_ttfts_ms())
    cpu_start = worker_cpu()

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
    cpu_ms = (worker_cpu() - cpu_start) * 1000
    own = simulator.stream_ttfts_ms()[warm:]
    simulator.reset()
    return {
        "ttft_p50_ms": round(percentile(firsts, 50), 1),
        "ttft_p99_ms": round(percentile(firsts, 99), 1),
        "simulator_ttft_p50_ms": round(percentile(own, 50), 1),
        "simulator_ttft_p99_ms": round(percentile(own, 99), 1),
        "ttft_samples": len(firsts),
        "ttft_rate_streams_per_s": TTFT_RATE,
        "worker_cpu_ms_per_stream": round(cpu_ms / max(len(tasks), 1), 1),
    }
