"""`mobius demo`: the whole pipeline on a built-in workload, with a provider outage midway.

Starts what it needs (Kafka, Redis, the provider simulator, router workers), publishes ~300 varied
queries plus a few malformed ones, takes Anthropic down halfway so fallbacks show, then reports the
routes taken, latency percentiles, cost against sending everything to the smart group, fallbacks,
errors and dead letters.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import Progress

from analytics.query import run_sql
from infra.errors import ServiceFailedToStart
from infra.ports import pick_free_port
from infra.simulator.launcher import Simulator
from mobius.fleet import SinkProcess, Worker
from mobius.settings import MobiusSettings
from mobius.stack import LocalStack
from mobius.tools.demo_report import DemoRun, summarize
from mobius.tools.demo_workload import MALFORMED, DemoQuery, build_workload
from routing.budgets import Scope
from routing.router_config import load_router_config
from schemas.events import decode_completion
from streams.client import AskTimeout, MobiusClient
from streams.kafka_options import client_options
from streams.stores import keys
from streams.stores.budgets import RedisBudgetStore
from streams.stores.connection import redis_client
from streams.topics import ensure_topics, topic_partitions

PUBLISH_RATE = 40.0  # queries per second
MALFORMED_EVERY = 25  # one malformed event per this many queries


@contextlib.contextmanager
def demo_processes(
    settings: MobiusSettings, workers: int, latency_scale: float
) -> Iterator[tuple[Simulator, list[Worker]]]:
    """Services, simulator and workers for the run; stops what it started."""
    stack = LocalStack(settings)
    started = stack.up(simulator=False)  # the demo runs its own, to fail a provider midway
    asyncio.run(ensure_topics(settings.kafka, settings.topics.all()))
    simulator = Simulator(pick_free_port(), settings.state_dir / "demo-simulator")
    simulator.start(latency_scale=latency_scale)
    fleet = [Worker(f"demo-worker-{i}", settings, simulator.provider_env()) for i in range(workers)]
    sink = SinkProcess(settings)
    try:
        sink.start()
        for worker in fleet:
            worker.start()
        yield simulator, fleet
    finally:
        for worker in fleet:
            worker.stop()
        sink.stop()
        simulator.stop()
        if started:
            stack.down(only=started)


async def run_workload(
    settings: MobiusSettings,
    fleet: tuple[Simulator, list[Worker]],
    queries: list[DemoQuery],
    console: Console | None,
) -> DemoRun:
    simulator, workers = fleet
    run = DemoRun()
    async with (
        MobiusClient(settings.kafka, settings.topics) as client,
        _tail(settings, settings.topics.completions) as completions,
        _tail(settings, settings.topics.dlq) as dlq,
    ):
        await set_demo_caps(settings)
        await wait_for_workers(client, workers)
        progress = Progress(console=console, transient=True, disable=console is None)
        with progress:
            task = progress.add_task("routing queries", total=len(queries) + len(MALFORMED))

            async def one(query: DemoQuery) -> None:
                started = time.perf_counter()
                reply = await client.ask(
                    [{"role": "user", "content": query.text}],
                    user_id=query.user_id,
                    tier=query.tier,
                    org_id=query.org_id,
                    timeout=120,
                )
                run.replies.append((query, reply, (time.perf_counter() - started) * 1000))
                progress.advance(task)

            pending = []
            for i, query in enumerate(queries):
                if i == len(queries) // 2:
                    simulator.controls(down=["anthropic"])  # a provider outage, midway
                pending.append(asyncio.create_task(one(query)))
                run.published += 1
                if i % MALFORMED_EVERY == MALFORMED_EVERY // 2:
                    await client.publish_raw(
                        MALFORMED[(i // MALFORMED_EVERY) % len(MALFORMED)], key=b"demo-bad"
                    )
                    run.published += 1
                await asyncio.sleep(1 / PUBLISH_RATE)
            await asyncio.gather(*pending)
            wanted = {reply.request_id for _, reply, _ in run.replies}
            malformed = run.published - len(queries)
            async with asyncio.timeout(60):
                while not wanted <= run.records.keys() or run.dead_letters < malformed:
                    for record in await _drain(completions):
                        decoded = decode_completion(record)
                        run.records[decoded.request_id] = decoded
                    run.dead_letters += len(await _drain(dlq))
            run.records = {rid: rec for rid, rec in run.records.items() if rid in wanted}  # not the pings
            progress.advance(task, malformed)
    return run


# Tight caps for a few demo customers, so the run shows downgrades and refusals at the caps.
DEMO_CAPS: list[tuple[Scope, str, float]] = [("org", "org-2", 0.06), ("user", "user-7", 0.004)]


async def set_demo_caps(settings: MobiusSettings) -> None:
    """Give the demo's customers fresh spend counters and their demo caps."""
    redis = redis_client(settings.redis)
    try:
        store = RedisBudgetStore(redis, near_cap_share=0.8)
        for scope, subject, daily_usd in DEMO_CAPS:
            await store.reset(scope, subject, limits_too=True)
            await store.set_limit(scope, subject, day_usd=daily_usd, month_usd=None)
        for user in range(1, 41):
            await store.reset("user", f"user-{user}")
        for org in range(1, 7):
            await store.reset("org", f"org-{org}")
        cached = [key async for key in redis.scan_iter(match=keys.CACHE_PATTERN)]
        if cached:
            await redis.delete(*cached)  # each run starts cold, so its cache hits are its own
    finally:
        await redis.aclose()


async def wait_for_workers(client: MobiusClient, workers: list[Worker], timeout_s: float = 180) -> None:
    """Ping until a worker answers; fail fast, with its log, if a worker process died."""
    deadline = time.monotonic() + timeout_s
    while True:
        for worker in workers:
            if not worker.process.is_running():
                raise ServiceFailedToStart(f"worker {worker.name} exited:\n{worker.process.log_tail()}")
        try:
            await client.ask([{"role": "user", "content": "ping"}], user_id="demo", tier="pro", timeout=5)
            return
        except AskTimeout:
            if time.monotonic() > deadline:
                raise ServiceFailedToStart(f"no worker answered within {timeout_s:.0f} s") from None


def run_demo(
    settings: MobiusSettings, *, workers: int, latency_scale: float, size: int, console: Console | None
) -> dict[str, Any]:
    config = load_router_config(settings.router_config)
    queries = build_workload(size)
    with demo_processes(settings, workers, latency_scale) as fleet:
        run = asyncio.run(run_workload(settings, fleet, queries, console))
        analytics_rows = wait_for_analytics(settings, set(run.records))
    return {**summarize(run, config), "analytics_rows": analytics_rows}


def wait_for_analytics(settings: MobiusSettings, request_ids: set[str], timeout_s: float = 60) -> int:
    """How many of the run's completion records the sink has written to ClickHouse (all, normally)."""
    sql = "SELECT uniqExact(request_id) FROM completions WHERE request_id IN {ids:Array(String)}"
    deadline = time.monotonic() + timeout_s
    while True:
        landed = int(run_sql(settings.clickhouse, sql, {"ids": sorted(request_ids)}).rows[0][0])
        if landed >= len(request_ids) or time.monotonic() > deadline:
            return landed
        time.sleep(0.2)


@contextlib.asynccontextmanager
async def _tail(settings: MobiusSettings, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A reader of everything written to `topic` from now on."""
    consumer = AIOKafkaConsumer(**client_options(settings.kafka), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await topic_partitions(settings.kafka, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        yield consumer
    finally:
        await consumer.stop()


async def _drain(consumer: AIOKafkaConsumer) -> list[bytes]:
    batch = await consumer.getmany(timeout_ms=200)
    return [record.value for records in batch.values() for record in records if record.value is not None]
