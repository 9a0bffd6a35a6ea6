"""One message round Kafka, Redis and ClickHouse: proof that the stack answers end to end."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from analytics.clickhouse import connect
from mobius.settings import MobiusSettings
from streams.kafka_options import client_options
from streams.stores import keys
from streams.stores.connection import redis_client
from streams.topics import ensure_topics

SELFCHECK_TOPIC = "mobius.selfcheck"


@dataclass(frozen=True)
class Hop:
    """One leg of the selfcheck's round trip, and how long it took."""

    name: str
    detail: str
    millis: float


async def kafka_roundtrip(settings: MobiusSettings, payload: bytes, timeout_s: float = 30.0) -> Hop:
    """Produce with the idempotent producer (acks=all) and read it back in a consumer group."""
    started = time.perf_counter()
    await ensure_topics(settings.kafka, [SELFCHECK_TOPIC], partitions=1)
    options = client_options(settings.kafka)
    producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(SELFCHECK_TOPIC, payload, key=payload)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        SELFCHECK_TOPIC,
        **options,
        group_id="mobius-selfcheck",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                record = await consumer.getone()
                await consumer.commit()
                if record.value == payload:
                    break
    finally:
        await consumer.stop()
    detail = f"{SELFCHECK_TOPIC}[{sent.partition}]@{sent.offset}, read back in group mobius-selfcheck"
    return Hop("kafka", detail, (time.perf_counter() - started) * 1000)


async def redis_roundtrip(settings: MobiusSettings, payload: bytes) -> Hop:
    started = time.perf_counter()
    client = redis_client(settings.redis)
    try:
        key = keys.SELFCHECK_PREFIX.encode() + payload
        await client.set(key, payload, ex=300)
        if await client.get(key) != payload:
            raise RuntimeError("Redis returned a different value than was written")
    finally:
        await client.aclose()
    return Hop("redis", f"SET/GET {key.decode()}", (time.perf_counter() - started) * 1000)


def clickhouse_roundtrip(settings: MobiusSettings, payload: bytes) -> Hop:
    started = time.perf_counter()
    client = connect(settings.clickhouse_dsn, settings.clickhouse_password)
    try:
        client.command(
            "CREATE TABLE IF NOT EXISTS mobius_selfcheck "
            "(id String, checked_at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY checked_at"
        )
        client.insert(
            "mobius_selfcheck", [[payload.decode(), datetime.now(UTC)]], column_names=["id", "checked_at"]
        )
        rows = client.query(
            "SELECT count() FROM mobius_selfcheck WHERE id = {id:String}", parameters={"id": payload.decode()}
        ).result_rows
        if rows[0][0] != 1:
            raise RuntimeError("ClickHouse did not return the row just inserted")
    finally:
        client.close()
    return Hop("clickhouse", "INSERT/SELECT mobius_selfcheck", (time.perf_counter() - started) * 1000)


async def run_roundtrip(settings: MobiusSettings) -> list[Hop]:
    payload = uuid.uuid4().hex.encode()
    kafka = await kafka_roundtrip(settings, payload)
    redis_hop = await redis_roundtrip(settings, payload)
    clickhouse = await asyncio.to_thread(clickhouse_roundtrip, settings, payload)
    return [kafka, redis_hop, clickhouse]
