"""The benchmark's yardstick: LiteLLM's Router alone, closed loop, in one process.

    python -m mobius.tools.bench_bare CONFIG --group fast --seconds 30 --concurrency 64

Run as its own process (the provider environment comes from the caller) so its CPU and memory
are its own; prints one JSON object: {"rps": ..., "cpu_ms_per_request": ..., "errors": ...}.
The Router is built by the same code as the worker's, from the same config, on the same Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path

from mobius.settings import MobiusSettings
from mobius.tools.bench_load import closed_loop
from routing.llm_gateway import build_router
from routing.router_config import RedisParams, load_router_config
from streams.stores.connection import router_redis


async def measure(
    config: Path, group: str, *, seconds: float, concurrency: int, max_tokens: int, redis: RedisParams | None
) -> dict[str, float]:
    router = build_router(load_router_config(config), redis)
    errors = 0

    async def ask(i: int) -> bool:
        nonlocal errors
        try:
            await router.acompletion(
                model=group,
                messages=[{"role": "user", "content": f"throughput {uuid.uuid4().hex} {i}"}],
                max_tokens=max_tokens,
            )
        except Exception:  # noqa: BLE001 - a failed call counts as an error, the loop goes on
            errors += 1
            return False
        return True

    # Warm up as the worker is by then: connections open, LiteLLM's lazy imports and caches done.
    await closed_loop(ask, concurrency, min(5.0, seconds))
    errors = 0
    cpu_start = time.process_time()
    result = await closed_loop(ask, concurrency, seconds)
    cpu_ms = (time.process_time() - cpu_start) * 1000
    return {
        "rps": round(result.rate, 1),
        "cpu_ms_per_request": round(cpu_ms / max(result.answered, 1), 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", type=Path)
    parser.add_argument("--group", required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=1024)
    args = parser.parse_args()
    settings = MobiusSettings()  # the caller's MOBIUS_ environment: the Redis the workers share
    redis = router_redis(settings.redis)
    result = asyncio.run(
        measure(
            args.config,
            args.group,
            seconds=args.seconds,
            concurrency=args.concurrency,
            max_tokens=args.max_tokens,
            redis=redis,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
