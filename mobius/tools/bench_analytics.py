"""Analytics benchmark: sink ingest rate and freshness, on its own topic and embedded engine.

- ingest_rows_per_s: records already waiting in Kafka, drained into ClickHouse by one sink.
- freshness_p50_ms / freshness_p95_ms: from a record being produced (its completed_at, stamped just
  before the send) to its row existing in ClickHouse (ingested_at, stamped by the insert, after which
  a query sees it), while records arrive at a steady rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from analytics.batch import IntentFile
from analytics.clickhouse import connect
from analytics.migrations import apply_migrations
from analytics.sink import CompletionSink, SinkConfig
from analytics.writer import CompletionsWriter
from mobius.settings import MobiusSettings
from schemas.events import CompletionRecord, encode_completion, now_utc
from streams.config import TopicNames
from streams.kafka_options import client_options
from streams.topics import ensure_topics


def synthetic_record(i: int) -> CompletionRecord:
    created = now_utc()
    return CompletionRecord(
        request_id=f"bench-{uuid.uuid4().hex}",
        user_id=f"user-{i % 500}",
        org_id=f"org-{i % 20}",
        tier=("free", "pro", "enterprise")[i % 3],
        query_type=("simple", "complex", "code")[i % 3],
        complexity=0.2,
        model_group="fast",
        model="openai/gpt-4o-mini",
        provider="openai",
        status="ok",
        prompt_tokens=120,
        completion_tokens=80,
        total_tokens=200,
        cost_nano_usd=66_000,
        total_latency_ms=900,
        provider_latency_ms=850,
        queue_wait_ms=4,
        attempted_models=("openai/gpt-4o-mini",),
        worker_id="bench",
        created_at=created - timedelta(milliseconds=900),
        completed_at=created,
    )


async def bench_analytics(settings: MobiusSettings, rows: int, rate: int, seconds: float) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    bench = settings.model_copy(update={"topics": TopicNames(completions=f"bench-{tag}.completions")})
    await ensure_topics(bench.kafka, [bench.topics.completions])
    client = await asyncio.to_thread(_bench_database, settings.state_dir / "bench-clickhouse", f"bench_{tag}")
    config = SinkConfig(group_id=f"bench-{tag}")
    producer = AIOKafkaProducer(**client_options(bench.kafka), linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        for i in range(rows):
            await producer.send(bench.topics.completions, encode_completion(synthetic_record(i)))
        await producer.flush()
        intent = IntentFile(settings.state_dir / "bench" / f"{tag}.json")
        sink = CompletionSink(bench.kafka, bench.topics, CompletionsWriter(client), intent, config=config)
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(sink.run(stop))
        await _until_count(client, rows)
        ingest_s = time.perf_counter() - started

        sent = 0
        t0 = time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                await producer.send(bench.topics.completions, encode_completion(synthetic_record(sent)))
                sent += 1
            await asyncio.sleep(0.002)
        await producer.flush()
        await _until_count(client, rows + sent)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await producer.stop()
    p50, p95 = _freshness(client, rows)
    client.close()
    return {
        "ingest_rows_per_s": round(rows / ingest_s, 1),
        "freshness_p50_ms": round(p50, 1),
        "freshness_p95_ms": round(p95, 1),
        "freshness_samples": sent,
    }


def _freshness(client: Client, skip: int) -> tuple[float, float]:
    """Quantiles over the steady-rate records only (the drained backlog is not freshness)."""
    row = client.query(
        "SELECT quantilesExact(0.5, 0.95)(dateDiff('millisecond', completed_at, ingested_at)) "
        "FROM (SELECT completed_at, ingested_at FROM completions ORDER BY completed_at OFFSET {skip:UInt64})",
        parameters={"skip": skip},
    ).result_rows[0][0]
    return float(row[0]), float(row[1])


def _bench_database(path: Path, database: str) -> Client:
    admin = connect(f"chdb://{path.resolve()}")
    admin.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client = connect(f"chdb://{path.resolve()}", database=database)
    apply_migrations(client, ttl_days=30)
    return client


async def _until_count(client: Client, expected: int, timeout_s: float = 600) -> None:
    """Poll the table: the row count is ClickHouse's, there is no event to wait on."""

    def count() -> int:
        return int(client.query("SELECT count() FROM completions").result_rows[0][0])

    async with asyncio.timeout(timeout_s):
        while await asyncio.to_thread(count) < expected:  # noqa: ASYNC110 - see the docstring
            await asyncio.sleep(0.05)
