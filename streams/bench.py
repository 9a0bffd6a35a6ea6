"""Pipeline benchmark: routing overhead at a fixed rate, closed-loop throughput, worker memory.

Overhead is what the pipeline adds to the provider's own time: the latency a client sees for an
ask minus the simulator's fixed latency. The load is open loop (asks start on a schedule whatever
the replies do), so a slow pipeline shows up as latency instead of hiding as a lower rate.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from infra.fleet import Simulator, Worker
from infra.ports import pick_free_port
from streams.client import MobiusClient
from streams.settings import MobiusSettings, TopicNames
from streams.topics import ensure_topics


def rss_mb(pid: int | None) -> float:
    """Resident memory of a process, from /proc (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        pass
    return 0.0


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:  # noqa: PLR2004 - quantiles needs two points
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


async def _open_loop(client: MobiusClient, rate: float, seconds: float, latency_ms: int) -> list[float]:
    overheads: list[float] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        reply = await client.ask(
            [{"role": "user", "content": f"bench question {uuid.uuid4().hex} {i}"}],
            user_id=f"bench-{i % 64}",
            tier="enterprise",
            timeout=60,  # enterprise: no cache, roomy caps
        )
        if reply.status == "ok":
            overheads.append((time.perf_counter() - started) * 1000 - latency_ms)

    tasks = []
    t0 = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return overheads


async def _closed_loop(client: MobiusClient, concurrency: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop(n: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            reply = await client.ask(
                [{"role": "user", "content": f"throughput {uuid.uuid4().hex}"}],
                user_id=f"bench-{n}",
                tier="enterprise",
                timeout=60,
            )
            done += reply.status == "ok"

    started = time.perf_counter()
    await asyncio.gather(*(loop(n) for n in range(concurrency)))
    return done / (time.perf_counter() - started)


def _unthrottled_config(source: Path, target: Path) -> Path:
    """The router config without rpm/tpm limits or spend caps: the bench measures the pipeline,
    not the limits an operator chose (the default config caps the fast group at 1,200 rpm)."""
    config = yaml.safe_load(source.read_text())
    for deployment in config["model_list"]:
        for limit in ("rpm", "tpm"):
            deployment["litellm_params"].pop(limit, None)
    config.setdefault("mobius", {}).setdefault("budgets", {})["limits"] = {}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config))
    return target


def bench_pipeline(
    settings: MobiusSettings, *, rate: float, seconds: float, latency_ms: int, concurrency: int
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    topics = TopicNames(**{name: f"bench-{tag}.{name}" for name in TopicNames.model_fields})
    config = _unthrottled_config(settings.router_config, settings.state_dir / "bench" / f"router-{tag}.yaml")
    bench = settings.model_copy(
        update={"topics": topics, "worker_group": f"bench-{tag}", "router_config": config}
    )
    asyncio.run(ensure_topics(bench))
    simulator = Simulator(pick_free_port(), settings.state_dir / "bench" / f"sim-{tag}")
    simulator.start()
    worker = Worker(f"bench-worker-{tag}", bench, simulator.provider_env())
    try:
        worker.start()

        async def measure() -> dict[str, Any]:
            async with MobiusClient(bench) as client:
                await client.ask(
                    [{"role": "user", "content": "warm up"}], user_id="w", tier="enterprise", timeout=120
                )
                rss_start = rss_mb(worker.process.pid())
                simulator.controls(fixed_latency_ms=latency_ms)
                overheads = await _open_loop(client, rate, seconds, latency_ms)
                simulator.controls(fixed_latency_ms=0)
                throughput = await _closed_loop(client, concurrency, seconds)
                return {
                    "overhead_p50_ms": round(percentile(overheads, 50), 1),
                    "overhead_p95_ms": round(percentile(overheads, 95), 1),
                    "overhead_p99_ms": round(percentile(overheads, 99), 1),
                    "overhead_samples": len(overheads),
                    "throughput_rps": round(throughput, 1),
                    "worker_rss_mb_start": rss_start,
                    "worker_rss_mb_end": rss_mb(worker.process.pid()),
                }

        return asyncio.run(measure())
    finally:
        worker.stop()
        simulator.stop()
