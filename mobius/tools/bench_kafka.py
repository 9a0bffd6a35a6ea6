"""Kafka transit at light load beside the floor the client library could reach, in one run.

Hops at 20 req/s (open loop, the provider at `latency_ms`): to the worker is the reply's
`queue_wait_ms` (query created -> read by the worker; at this load nothing waits for a slot), back
is the client's arrival time minus the reply's `answered_at`. Both are differences of millisecond
timestamps (the events' Avro fields), so each sample is within 1 ms and the means are unbiased.
The way back also holds what the worker does between answering and publishing (the reply
store's Redis write, encoding the reply and the completion record).
The floor: a bare aiokafka producer (acks=all, idempotent, the client's linger) and consumer
(the worker's fetch wait) on the same broker, one record at a time, produce -> consumed, paced
at the hops' 20 records/s: a broker and clients idle between records wake as the pipeline's do.
Back to back (each record sent as the last arrives) the same path is faster, as every thread
on the way is still awake: `kafka_floor_back_to_back_*`, reported beside it.
The same 20 req/s run gives the overhead at light load (`overhead_*_20rps`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from mobius.tools.bench_load import TIER, open_loop, question, summarize
from mobius.tools.stats import percentile
from schemas.events import now_utc
from streams.client import AskTimeout, MobiusClient
from streams.config import KafkaConfig
from streams.kafka_options import FETCH_MAX_WAIT_MS, client_options
from streams.large_records import new_producer
from streams.topics import ensure_topics

LIGHT_RATE = 20.0
FLOOR_RECORDS = 200  # paced at LIGHT_RATE: 10 s


async def light_load_hops(client: MobiusClient, latency_ms: int, seconds: float) -> dict[str, Any]:
    """`overhead_*_20rps` and the two hops' p50/p99/mean (ms) at 20 req/s."""
    to_worker: list[float] = []
    back: list[float] = []

    async def ask(i: int) -> bool:
        try:
            reply = await client.ask(question(i), user_id=f"hop-{i % 64}", tier=TIER, timeout=60)
        except AskTimeout:
            return False
        arrived = now_utc()  # cut to the millisecond like answered_at, so the difference is fair
        to_worker.append(float(reply.queue_wait_ms))
        back.append((arrived - reply.answered_at).total_seconds() * 1000)
        return reply.status == "ok"

    latencies = await open_loop(ask, LIGHT_RATE, seconds)
    result: dict[str, Any] = {
        f"{key}_20rps": value for key, value in summarize("overhead", latencies, latency_ms).items()
    }
    both = to_worker + back
    for name, values in (("kafka_hop", both), ("kafka_hop_to_worker", to_worker), ("kafka_hop_back", back)):
        result |= _stats(name, values)
    return result


async def kafka_floor(kafka: KafkaConfig, topic_prefix: str) -> dict[str, Any]:
    """One record at a time through a bare producer and consumer, paced at LIGHT_RATE
    (`kafka_floor_*`) and back to back (`kafka_floor_back_to_back_*`)."""
    topic = f"{topic_prefix}.floor-{uuid.uuid4().hex[:6]}"
    await ensure_topics(kafka, [topic], partitions=1)
    producer = new_producer(kafka)
    consumer = AIOKafkaConsumer(**client_options(kafka), group_id=None, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
    try:
        await producer.start()
        await consumer.start()
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        await consumer.position(partition)
        paced: list[float] = []
        back_to_back: list[float] = []
        for i in range(FLOOR_RECORDS + 20):  # the first 20 open connections and warm the path
            await asyncio.sleep(1 / LIGHT_RATE)
            paced.append(await _one_record(producer, consumer, topic, i))
            back_to_back.append(await _one_record(producer, consumer, topic, i))
    finally:
        await consumer.stop()
        await producer.stop()
    return _stats("kafka_floor", paced[20:]) | _stats("kafka_floor_back_to_back", back_to_back[20:])


async def _one_record(producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, topic: str, i: int) -> float:
    """Milliseconds from handing one record to the producer to the consumer returning it."""
    started = time.perf_counter()
    await producer.send(topic, f"floor {i}".encode(), partition=0)
    await consumer.getone()
    return (time.perf_counter() - started) * 1000


def _stats(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(percentile(values, 50), 2),
        f"{name}_p99_ms": round(percentile(values, 99), 2),
        f"{name}_mean_ms": round(statistics.fmean(values), 2) if values else 0.0,
    }
