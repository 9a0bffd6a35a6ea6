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
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from analytics.query import run_sql
from infra.errors import ServiceFailedToStart
from infra.simulator.launcher import Simulator
from mobius.fleet import SinkProcess, Worker
from mobius.settings import MobiusSettings
from mobius.stack import LocalStack
from mobius.tools.demo_workload import MALFORMED, DemoQuery, build_workload
from mobius.tools.stats import percentile
from routing.budgets import Scope
from routing.llm_gateway import deployment_price
from routing.router_config import RouterConfig, load_router_config
from schemas.events import CompletionRecord, ReplyEvent, decode_completion
from streams.client import AskTimeout, MobiusClient
from streams.kafka_options import client_options
from streams.stores import keys
from streams.stores.budgets import RedisBudgetStore
from streams.stores.connection import redis_client
from streams.topics import ensure_topics, topic_partitions

PUBLISH_RATE = 40.0  # queries per second
MALFORMED_EVERY = 25  # one malformed event per this many queries


@dataclass
class DemoRun:
    replies: list[tuple[DemoQuery, ReplyEvent, float]] = field(default_factory=list)
    records: dict[str, CompletionRecord] = field(default_factory=dict)
    dead_letters: int = 0
    published: int = 0


@contextlib.contextmanager
def demo_processes(
    settings: MobiusSettings, workers: int, latency_scale: float
) -> Iterator[tuple[Simulator, list[Worker]]]:
    """Services, simulator and workers for the run; stops what it started."""
    stack = LocalStack(settings)
    started = stack.up()
    asyncio.run(ensure_topics(settings.kafka, settings.topics.all()))
    simulator = Simulator(settings.simulator_port, settings.state_dir / "simulator")
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
            stack.down()


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


KIND_LABEL = {"simple": "simple", "complex": "complex", "code": "code", "long_document": "long_context"}


def summarize(run: DemoRun, config: RouterConfig) -> dict[str, Any]:
    smart = [deployment_price(d.litellm_params) for d in config.model_list if d.model_name == "smart"]
    ok = [(q, r, ms) for q, r, ms in run.replies if r.status == "ok"]
    latencies = sorted(ms for _, _, ms in run.replies)
    cost = sum(r.cost_nano_usd for _, r, _ in ok)
    all_smart = Decimal(0)
    for _, reply, _ in ok:
        if reply.usage is not None:
            each = [p.cost_nano_usd(reply.usage.prompt_tokens, reply.usage.completion_tokens) for p in smart]
            all_smart += Decimal(sum(each)) / len(each)
    routes = Counter(
        (rec.query_type, rec.tier, rec.model_group, rec.model or f"({rec.error_code})")
        for rec in run.records.values()
    )
    classified = [
        (query, run.records[reply.request_id])
        for query, reply, _ in run.replies
        if reply.request_id in run.records
    ]
    # Hard queries from paying tiers answered by fast, except where a spend cap moved them on purpose.
    hard_to_fast = sum(
        1
        for q, r, _ in ok
        if q.kind in ("complex", "code")
        and q.tier != "free"
        and r.model_group == "fast"
        and not r.budget_downgraded
    )
    return {
        "published": run.published,
        "answered_ok": len(ok),
        "errors": sum(1 for _, r, _ in run.replies if r.status == "error"),
        "dlq": run.dead_letters,
        "fallbacks": sum(1 for _, r, _ in run.replies if r.fallbacks > 0),
        "groups_used": sorted({r.model_group for _, r, _ in ok if r.model_group}),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "cost_usd": round(cost / 1e9, 6),
        "all_smart_cost_usd": round(float(all_smart) / 1e9, 6),
        "savings_pct": round(100 * (1 - cost / float(all_smart)), 1) if all_smart else 0.0,
        "cache_hits": sum(1 for _, r, _ in ok if r.cache_hit),
        "budget_downgrades": sum(1 for _, r, _ in ok if r.budget_downgraded),
        "budget_refusals": sum(1 for _, r, _ in run.replies if r.error_code == "budget_exceeded"),
        "classified_right_pct": round(
            100
            * sum(rec.query_type == KIND_LABEL[q.kind] for q, rec in classified)
            / max(len(classified), 1),
            1,
        ),
        "hard_answered_by_fast": hard_to_fast,
        "routes": [
            {"query_type": qt, "tier": tier, "group": group, "model": model, "count": n}
            for (qt, tier, group, model), n in sorted(routes.items())
        ],
    }


def print_summary(summary: dict[str, Any], console: Console) -> None:
    routes = Table(title="routes taken (query type x tier -> group / model)")
    for column in ("query type", "tier", "group", "model", "queries"):
        routes.add_column(column)
    for route in summary["routes"]:
        routes.add_row(
            route["query_type"], route["tier"], route["group"], route["model"], str(route["count"])
        )
    console.print(routes)
    totals = Table(title="demo summary")
    totals.add_column("measure")
    totals.add_column("value", justify="right")
    for key in (
        "published",
        "answered_ok",
        "errors",
        "dlq",
        "fallbacks",
        "cache_hits",
        "budget_downgrades",
        "budget_refusals",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "analytics_rows",
    ):
        totals.add_row(key, str(summary[key]))
    totals.add_row("cost (USD)", f"{summary['cost_usd']:.6f}")
    totals.add_row("all-smart cost (USD)", f"{summary['all_smart_cost_usd']:.6f}")
    totals.add_row("saved against all-smart", f"{summary['savings_pct']}%")
    totals.add_row("queries classified as their kind", f"{summary['classified_right_pct']}%")
    totals.add_row("hard queries (paying tiers) answered by fast", str(summary["hard_answered_by_fast"]))
    totals.add_row("groups used", ", ".join(summary["groups_used"]))
    console.print(totals)


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
