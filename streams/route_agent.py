"""The `route` agent: many queries in flight per worker, acknowledged strictly in offset order.

The agent's stream runs without Faust's automatic acks. Each event is handled in its own task
(bounded by `worker_max_in_flight`); its output is published and confirmed by Kafka, and only then
is it released to `OrderedAcks`, which hands Faust acks in offset order per partition. A worker
killed at any moment therefore leaves its unfinished queries uncommitted, and another worker
handles them again (the reply store makes that repeat free).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import faust
from faust import Stream
from faust.types import TP, EventT, StreamT

from streams.ordered_acks import OrderedAcks
from streams.pipeline import RoutePipeline
from streams.pipeline_types import Outgoing

logger = logging.getLogger("mobius.route")
MAX_PUBLISH_PAUSE_S = 5.0


class InFlight:
    """Events taken from the stream and not yet acked, by partition and offset."""

    def __init__(self) -> None:
        self.order: OrderedAcks[TP] = OrderedAcks()
        self.events: dict[tuple[TP, int], EventT[Any]] = {}

    def take(self, event: EventT[Any]) -> None:
        tp, offset = event.message.tp, event.message.offset
        self.order.started(tp, offset)
        self.events[(tp, offset)] = event

    def release(self, event: EventT[Any]) -> list[EventT[Any]]:
        """The events that may now be acked, in offset order."""
        tp = event.message.tp
        return [self.events.pop((tp, offset)) for offset in self.order.finished(tp, event.message.offset)]

    def forget(self, partitions: Iterable[TP]) -> None:
        """A revoked partition's unfinished events are redelivered to its next owner; never ack them."""
        for tp in partitions:
            self.order.forget(tp)
            for key in [k for k in self.events if k[0] == tp]:
                del self.events[key]


def register_route_agent(
    app: faust.App,
    queries_topic: str,
    make_pipeline: Callable[[], Awaitable[RoutePipeline]],
    max_in_flight: int,
) -> None:
    topic = app.topic(queries_topic, key_type=bytes, value_type=bytes)
    channels: dict[str, faust.TopicT] = {}
    in_flight = InFlight()

    def channel(name: str) -> faust.TopicT:
        if name not in channels:
            channels[name] = app.topic(name, key_type=bytes, value_type=bytes)
        return channels[name]

    async def publish(records: list[Outgoing]) -> None:
        sent = [
            await channel(r.topic).send(key=r.key, value=r.value, headers=list(r.headers)) for r in records
        ]
        await asyncio.gather(*sent)  # each resolves once Kafka (acks=all) has the record

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
                await _publish_until_done(publish, await _safe_handle(pipeline, event, source))
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


async def _safe_handle(pipeline: RoutePipeline, event: EventT[Any], source: str) -> list[Outgoing]:
    raw = event.message.value
    data = raw if isinstance(raw, bytes) else b""
    try:
        return await pipeline.handle(data, source)
    except Exception as exc:  # a bug must cost one dead letter, never the worker or the message
        logger.exception("internal error routing %s", source)
        return pipeline.internal_error(data, source, exc)


async def _publish_until_done(
    publish: Callable[[list[Outgoing]], Awaitable[None]], records: list[Outgoing]
) -> None:
    """Kafka unavailable means nothing can progress: keep trying, and never ack unpublished work."""
    pause = 0.2
    while True:
        try:
            await publish(records)
            return
        except Exception:
            logger.warning("publishing failed; retrying in %.1f s", pause, exc_info=True)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PUBLISH_PAUSE_S)
