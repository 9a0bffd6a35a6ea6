"""The client library for services: publish a query, await its reply.

    async with MobiusClient(settings.kafka, settings.topics) as client:
        reply = await client.ask([{"role": "user", "content": "hi"}], user_id="u1", tier="pro")

One client reads its reply topic with one consumer, assigned to every partition (no consumer group,
so no rebalance delay) from the end as of `start()`; concurrent asks wait on futures keyed by
request id. `publish()` is fire-and-forget: the reply still goes to the reply topic.

A record of 1 MiB or more (a long document as the prompt) goes by a producer of its own, so the
small queries sent meanwhile do not wait behind it (`streams/large_records.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.trace import SpanKind

from schemas.events import (
    QueryEvent,
    QueryHints,
    ReplyChunk,
    ReplyEvent,
    decode_reply_record,
    encode_query,
    now_utc,
)
from schemas.vocabulary import Tier
from streams import tracing
from streams.chunk_order import ChunkOrder
from streams.config import KafkaConfig, TopicNames
from streams.kafka_access import start_client
from streams.kafka_options import FETCH_MAX_WAIT_MS, client_options
from streams.large_records import LargeRecordProducer, is_large, new_producer
from streams.topics import topic_partitions
from streams.tracing import TraceStamp, messaging_attributes

logger = logging.getLogger("mobius.client")


class AskTimeout(TimeoutError):
    """No reply arrived in time; the query may still be answered later."""


class StreamFailed(Exception):
    """A streamed query ended with an error reply (before or after its first chunk)."""

    def __init__(self, reply: ReplyEvent) -> None:
        super().__init__(f"{reply.error_code}: {reply.error_message}")
        self.reply = reply


class MobiusClient:
    """Publishes QueryEvents and matches ReplyEvents to them by request id (see the module docstring)."""

    def __init__(self, kafka: KafkaConfig, topics: TopicNames, reply_topic: str | None = None) -> None:
        self.kafka = kafka
        self.topics = topics
        self.reply_topic = reply_topic or topics.replies
        options = client_options(kafka)
        max_bytes = kafka.max_message_bytes
        self._producer = new_producer(kafka)
        self._large = LargeRecordProducer(kafka)
        self._consumer = AIOKafkaConsumer(
            **options,
            enable_auto_commit=False,
            group_id=None,
            max_partition_fetch_bytes=max_bytes,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self._waiting: dict[str, asyncio.Future[ReplyEvent]] = {}
        self._streams: dict[str, asyncio.Queue[ReplyChunk | ReplyEvent]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MobiusClient:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect; KafkaAccessError says why when Kafka refuses (credentials, TLS, protocol)."""
        try:
            await start_client(self.kafka, self._producer.start)
            await self._consumer.start()
            partitions = await self._reply_partitions()
            self._consumer.assign(partitions)
            await self._consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end offsets now, so no reply after start() is missed
                await self._consumer.position(tp)
        except BaseException:
            await self.stop()  # nothing half-open is left behind
            raise
        self._reader = asyncio.create_task(self._read_replies())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for future in self._waiting.values():
            future.cancel()
        await self._consumer.stop()
        await self._producer.stop()
        await self._large.stop()

    async def publish(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        user_id: str,
        tier: Tier,
        org_id: str | None = None,
        hints: QueryHints | None = None,
        metadata: Mapping[str, str] | None = None,
        deadline: datetime | None = None,
        request_id: str | None = None,
        stream: bool = False,
    ) -> str:
        """Send a query to its tier's lane topic; its request id. The reply goes to this client's
        reply topic."""
        event = QueryEvent(
            request_id=request_id or uuid.uuid4().hex,
            created_at=now_utc(),
            user_id=user_id,
            org_id=org_id,
            tier=tier,
            messages=tuple(messages),  # type: ignore[arg-type]  # pydantic validates the dicts
            hints=hints,
            reply_to=self.reply_topic,
            metadata=dict(metadata or {}),
            deadline=deadline,
            stream=stream,
        )
        topic = self.topics.lane(tier)
        # The caller's current trace is continued (a new one starts when there is none): the
        # worker's span, the reply and the completion record carry its trace id.
        attributes = messaging_attributes("send", topic, {"mobius.request_id": event.request_id})
        with tracing.span(f"send {topic}", kind=SpanKind.PRODUCER, attributes=attributes) as span:
            headers = TraceStamp.of(span).headers
            await self.publish_raw(encode_query(event), key=user_id.encode(), topic=topic, headers=headers)
        return event.request_id

    async def publish_raw(
        self,
        value: bytes,
        key: bytes | None = None,
        topic: str | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> str:
        """Put bytes as they are on `topic`, by default the plain queries topic, where each query
        takes the lane of its tier (tools and tests of bad input use this); where they landed, as
        a dead letter's source header names it: topic[partition]@offset."""
        topic, listed = topic or self.topics.queries, list(headers) or None
        if is_large(value):
            sent = await (await self._large.send(topic, value, key, listed))
        else:
            sent = await self._producer.send_and_wait(topic, value, key=key, headers=listed)
        return f"{sent.topic}[{sent.partition}]@{sent.offset}"

    async def ask(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        user_id: str,
        tier: Tier,
        timeout: float = 30.0,  # noqa: ASYNC109 - the public signature services call: ask(..., timeout=)
        **options: Any,
    ) -> ReplyEvent:
        """Publish a query and wait for its reply; AskTimeout after `timeout` seconds."""
        request_id = options.pop("request_id", None) or uuid.uuid4().hex
        future = self.expect(request_id)
        try:
            await self.publish(messages, user_id=user_id, tier=tier, request_id=request_id, **options)
            return await self.wait(request_id, future, timeout)
        finally:
            self._waiting.pop(request_id, None)

    async def stream(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        user_id: str,
        tier: Tier,
        timeout: float = 30.0,  # noqa: ASYNC109 - as ask(): the whole stream's deadline
        **options: Any,
    ) -> AsyncIterator[ReplyChunk | ReplyEvent]:
        """Publish a query asking for a stream; yield its chunks as they arrive, in order and once,
        then the final ReplyEvent (its content is the chunks' text). An error reply raises
        StreamFailed; AskTimeout when the reply is not complete within `timeout` seconds.

        After a redelivery the answer starts over: a chunk with sequence 0 under a new stream_id
        (what was shown of the earlier stream is void; see streams.chunk_order)."""
        request_id = options.pop("request_id", None) or uuid.uuid4().hex
        queue: asyncio.Queue[ReplyChunk | ReplyEvent] = asyncio.Queue()
        self._streams[request_id] = queue
        order = ChunkOrder()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            await self.publish(
                messages, user_id=user_id, tier=tier, request_id=request_id, stream=True, **options
            )
            while True:
                left = deadline - asyncio.get_running_loop().time()
                try:
                    item = await asyncio.wait_for(queue.get(), max(0.0, left))
                except TimeoutError:
                    raise AskTimeout(f"no complete reply to {request_id} within {timeout:.1f} s") from None
                if isinstance(item, ReplyEvent):
                    if item.status == "error":
                        raise StreamFailed(item)
                    yield item
                    return
                if order.admits(item):
                    yield item
        finally:
            self._streams.pop(request_id, None)

    def expect(self, request_id: str) -> asyncio.Future[ReplyEvent]:
        """Register interest in a reply before its query is sent (used by ask and by raw publishers)."""
        future: asyncio.Future[ReplyEvent] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        return future

    async def wait(
        self,
        request_id: str,
        future: asyncio.Future[ReplyEvent],
        timeout: float,  # noqa: ASYNC109 - a deadline for this one reply
    ) -> ReplyEvent:
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AskTimeout(f"no reply to {request_id} within {timeout:.1f} s") from None
        finally:
            self._waiting.pop(request_id, None)

    async def _reply_partitions(self) -> list[TopicPartition]:
        return [
            TopicPartition(self.reply_topic, p) for p in await topic_partitions(self.kafka, self.reply_topic)
        ]

    async def _read_replies(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    self._deliver(record.value)

    def _deliver(self, value: bytes | None) -> None:
        try:
            reply = decode_reply_record(value or b"")
        except Exception:  # a stranger's bytes on our reply topic must not stop the reader
            logger.warning("undecodable record on %s skipped", self.reply_topic, exc_info=True)
            return
        if (queue := self._streams.get(reply.request_id)) is not None:
            queue.put_nowait(reply)
            return
        if isinstance(reply, ReplyChunk):
            return  # another caller's stream on a shared reply topic
        future = self._waiting.get(reply.request_id)
        if future is not None and not future.done():
            future.set_result(reply)
