"""A private pipeline for one test module: its own topics, consumer group and worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from infra.ports import pick_free_port
from infra.simulator.launcher import Simulator
from mobius.fleet import Worker
from mobius.settings import MobiusSettings
from streams.client import MobiusClient
from streams.config import TopicNames
from streams.kafka_options import client_options
from streams.stores import keys
from streams.stores.connection import redis_client
from streams.topics import ensure_topics


def isolated_settings(base: MobiusSettings, **overrides: object) -> MobiusSettings:
    tag = uuid.uuid4().hex[:8]
    topics = TopicNames(**{name: f"t{tag}.{name}" for name in TopicNames.model_fields})
    values = {"topics": topics, "worker_group": f"router-{tag}", "worker_session_timeout_s": 6.0}
    values.update(overrides)
    return base.model_copy(update=values)


@dataclass
class Pipeline:
    settings: MobiusSettings
    simulator: Simulator
    workers: list[Worker] = field(default_factory=list)

    def add_worker(self) -> Worker:
        worker = Worker(
            f"worker-{len(self.workers)}-{uuid.uuid4().hex[:6]}", self.settings, self.simulator.provider_env()
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@contextlib.contextmanager
def running_pipeline(base: MobiusSettings, workers: int = 1, **overrides: object) -> Iterator[Pipeline]:
    """Workers on their own topics, group and provider simulator.

    The simulator is private too: LiteLLM keeps cooldowns and rpm counters per deployment in Redis,
    shared by every worker, and a deployment's id derives from its api_base. A private simulator
    port keeps one module's outages and rate limits from reaching the next module's workers.
    """
    settings = isolated_settings(base, **overrides)
    asyncio.run(ensure_topics(settings.kafka, settings.topics.all()))
    asyncio.run(_forget_spend_and_cache(settings))
    simulator = Simulator(pick_free_port(), settings.state_dir / "simulators" / settings.worker_group)
    simulator.start(latency_scale=0.02)
    pipeline = Pipeline(settings, simulator)
    try:
        for _ in range(workers):
            pipeline.add_worker()
        yield pipeline
    finally:
        pipeline.stop()
        simulator.stop()


async def _forget_spend_and_cache(settings: MobiusSettings) -> None:
    """Budgets and cached answers outlive a module in the shared Redis; each pipeline starts clean."""
    client = redis_client(settings.redis)
    try:
        for pattern in ("mobius:spend:*", keys.CACHE_PATTERN, keys.reservation("*"), keys.RESERVATIONS):
            found = [key async for key in client.scan_iter(match=pattern)]
            if found:
                await client.delete(*found)
    finally:
        await client.aclose()


@contextlib.contextmanager
def serving_pipeline(base: MobiusSettings, **options: Any) -> Iterator[Pipeline]:
    """`running_pipeline`, yielded once a worker has answered (it owns the partitions)."""
    with running_pipeline(base, **options) as running:

        async def warm() -> None:
            async with MobiusClient(running.settings.kafka, running.settings.topics) as client:
                await wait_until_serving(client)

        asyncio.run(warm())
        yield running


async def wait_until_serving(client: MobiusClient, timeout: float = 90.0) -> None:
    """The first answer proves a worker has joined the group and owns the partitions."""
    reply = await client.ask(
        [{"role": "user", "content": "ping"}], user_id="warmup", tier="pro", timeout=timeout
    )
    assert reply.status == "ok", reply


@contextlib.asynccontextmanager
async def topic_reader(settings: MobiusSettings, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings.kafka),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def read_until(
    consumer: AIOKafkaConsumer, count: int, timeout: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with asyncio.timeout(timeout):
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
    return records
