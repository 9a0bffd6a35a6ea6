"""What the chaos pipeline wrote, as text, for the canary scenario to search: its logs, every
record on its topics, its ClickHouse rows and every Redis key with its value."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer

from analytics.query import ask_sink
from mobius.settings import MobiusSettings
from streams.kafka_options import client_options
from streams.stores.connection import redis_client


def configured_secrets(settings: MobiusSettings) -> list[str]:
    """The passwords the settings carry (Redis, Kafka SASL, ClickHouse), where set."""
    values = [
        settings.redis_password,
        settings.kafka_security.sasl_password,
        settings.clickhouse_password,
    ]
    return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


async def everything_written(settings: MobiusSettings, extra_topics: list[str]) -> list[tuple[str, str]]:
    """(where, text) for every log, topic record, ClickHouse table and Redis key the rig's
    pipeline wrote: what the canary scenario searches."""
    found = [
        (f"log {path.name}", path.read_text(errors="replace"))
        for path in sorted(settings.state_dir.rglob("*.out"))
    ]
    for topic in [*settings.topics.all(), *extra_topics]:
        found += await _topic_text(settings, topic)
    for table in ("completions", "completion_ids", "model_prices"):  # the rollups hold only numbers
        sql = f"SELECT * FROM {table}"  # noqa: S608 - a fixed table name
        result = await asyncio.to_thread(ask_sink, settings.clickhouse, sql, {})
        found.append((f"clickhouse {table}", repr(result.rows)))
    found += await _redis_text(settings)
    return found


async def _topic_text(settings: MobiusSettings, topic: str) -> list[tuple[str, str]]:
    """Each record of `topic` (key, value, headers) as text, from the beginning to the end now."""
    consumer = AIOKafkaConsumer(
        topic, **client_options(settings.kafka), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    texts: list[tuple[str, str]] = []
    try:
        partitions = consumer.assignment() or set()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=1000, max_records=2000)).values():
                for r in records:
                    parts = [r.key or b"", r.value or b"", *(v for _, v in r.headers)]
                    texts.append((f"topic {topic}", b" ".join(parts).decode("latin-1")))
    finally:
        await consumer.stop()
    return texts


async def _redis_text(settings: MobiusSettings) -> list[tuple[str, str]]:
    client = redis_client(settings.redis)
    texts = []
    try:
        async for key in client.scan_iter(count=1000):
            raw_kind: bytes | str = await client.type(key)
            kind = raw_kind.decode() if isinstance(raw_kind, bytes) else raw_kind
            if kind == "string":
                value: object = await client.get(key)
            elif kind == "hash":
                value = await client.hgetall(key)
            elif kind == "list":
                value = await client.lrange(key, 0, -1)
            elif kind == "set":
                value = await client.smembers(key)
            elif kind == "zset":
                value = await client.zrange(key, 0, -1, withscores=True)
            else:
                value = kind
            texts.append((f"redis {key!r}", f"{key!r} {value!r}"))
    finally:
        await client.aclose()
    return texts
