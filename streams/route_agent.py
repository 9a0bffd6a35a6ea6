"""The `route` agent: many queries in flight per worker, acknowledged strictly in offset order.

The agent's stream runs without Faust's automatic acks. Each event is handled in its own task
(bounded by `max_in_flight`); its output is published and confirmed by Kafka, and only then is it
released to `InFlight`, which hands Faust acks in offset order per partition. A worker killed at
any moment therefore leaves its unfinished queries uncommitted, and another worker handles them
again (the reply store makes that repeat free).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import faust
from faust import Stream
from faust.types import EventT, StreamT

from streams.in_flight import InFlight
from streams.outgoing import Outgoing
from streams.pipeline.route_pipeline import RoutePipeline
from streams.publishing import Send, publish_all, refusing_missing_topics
from streams.reply_topics import TopicDirectory

logger = logging.getLogger("mobius.route")


def register_route_agent(
    app: faust.App,
    queries_topic: str,
    make_pipeline: Callable[[], Awaitable[RoutePipeline]],
    max_in_flight: int,
    *,
    topics: TopicDirectory,
    own_topics: frozenset[str],
) -> None:
    """Add the `route` agent to `app`: queries in, replies, records and dead letters out (a
    record for a topic other than `own_topics` goes out only if `topics` says it exists)."""
    topic = app.topic(queries_topic, key_type=bytes, value_type=bytes)
    send = refusing_missing_topics(_sender(app), topics, own_topics)
    in_flight = InFlight()

    def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        in_flight.forget(kwargs.get("revoked") or (args[0] if args else ()))

    app.on_partitions_revoked.connect(on_revoked)

    @app.agent(topic, name="route")
    async def route(stream: StreamT[Any]) -> None:
        pipeline = await make_pipeline()
        manual = cast(Stream[bytes], stream).noack()
        slots = asyncio.Semaphore(max_in_flight)
        tasks: set[asyncio.Task[None]] = set()

        async def handle(event: EventT[Any]) -> None:
            message = event.message
            source = f"{message.tp.topic}[{message.tp.partition}]@{message.offset}"
            try:
                records = await _safe_handle(pipeline, event, source)
                await publish_all(send, records, pipeline.topics.dlq, source)
                for ready in in_flight.release(event):
                    await manual.ack(ready)
            finally:
                slots.release()

        async for event in manual.events():
            await slots.acquire()
            in_flight.take(event)
            task = asyncio.create_task(handle(event))
            tasks.add(task)
            task.add_done_callback(tasks.discard)


def _sender(app: faust.App) -> Send:
    """Hands one record to the app's producer; returns the future Kafka's acknowledgement resolves."""
    channels: dict[str, faust.TopicT] = {}

    async def send(record: Outgoing) -> Awaitable[object]:
        if record.topic not in channels:
            channels[record.topic] = app.topic(record.topic, key_type=bytes, value_type=bytes)
        sent: Awaitable[object] = await channels[record.topic].send(
            key=record.key, value=record.value, headers=list(record.headers)
        )
        return sent

    return send


async def _safe_handle(pipeline: RoutePipeline, event: EventT[Any], source: str) -> list[Outgoing]:
    raw = event.message.value
    data = raw if isinstance(raw, bytes) else b""
    try:
        return await pipeline.handle(data, source)
    except Exception as exc:  # a bug must cost one dead letter, never the worker or the message
        logger.exception("internal error routing %s", source)
        return pipeline.internal_error(data, source, exc)
