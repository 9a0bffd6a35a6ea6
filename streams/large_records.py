"""Large records go to Kafka by a producer of their own, so small ones never queue behind them.

A producer sends one request at a time per broker: a record of several MB (a long document as a
prompt, or its dead letter) takes the broker ~40 ms to accept with acks=all, and every small
record handed to the same producer meanwhile waits for it. Measured on one broker (bare aiokafka,
2026-12-07): a small record sent right after a 5.3 MB one reached a consumer after 46 ms on the
shared producer, 12.5 ms when the big one went by a second producer, 2.7 ms with no big record.

The second producer starts with the first large record (most processes never send one). Records
split this way keep their order only among their own kind, so only independent records take it:
a client's queries, a worker's dead letters (never a reply, which must follow its chunks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Collection
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.config import KafkaConfig
from streams.kafka_access import start_client
from streams.kafka_options import client_options
from streams.outgoing import Outgoing
from streams.publishing import Send

LARGE_RECORD_BYTES = 1024 * 1024


def new_producer(kafka: KafkaConfig) -> AIOKafkaProducer:
    """An idempotent acks=all producer that takes records up to the topics' size limit."""
    return AIOKafkaProducer(
        **client_options(kafka),
        enable_idempotence=True,
        acks="all",
        linger_ms=1,
        max_request_size=kafka.max_message_bytes,
    )


def is_large(value: bytes) -> bool:
    return len(value) >= LARGE_RECORD_BYTES


class LargeRecordProducer:
    """The producer for large records, started on first use."""

    def __init__(self, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()
        self._closed = False

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        """Hand the record over; the future Kafka's acknowledgement resolves (RecordMetadata)."""
        producer = await self._started()
        future: asyncio.Future[Any] = await producer.send(topic, value, key=key, headers=headers)
        return future

    async def stop(self) -> None:
        """Flush and close; a large record sent after this fails (nothing starts a new producer)."""
        async with self._starting:
            self._closed = True
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._closed:
                raise RuntimeError("the large-record producer was stopped")
            if self._producer is None:
                producer = new_producer(self.kafka)
                try:
                    await start_client(self.kafka, producer.start)
                except BaseException:
                    await producer.stop()  # a half-started producer holds connections and tasks
                    raise
                self._producer = producer
        return self._producer


def sending_large_apart(send: Send, large: LargeRecordProducer, topics: Collection[str]) -> Send:
    """`send`, except that a large record for one of `topics` goes by `large`. Only topics whose
    records need no order with the others': a reply must stay behind its chunks on one producer."""

    async def split(record: Outgoing) -> Awaitable[object]:
        if record.topic not in topics or not is_large(record.value):
            return await send(record)
        return await large.send(record.topic, record.value, record.key, list(record.headers) or None)

    return split
