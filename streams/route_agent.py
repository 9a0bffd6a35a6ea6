"""The route agents: many queries in flight per worker, admitted by lane, acked strictly in offset order.

One agent per input topic: each lane's topic (`mobius.queries.enterprise`, `.pro`, `.free`) and
the plain queries topic, whose events take the lane of their tier. Every agent takes events
from its own stream without Faust's automatic acks and hands each to a task that waits at the
worker's one `PriorityGate` (`max_in_flight` slots shared by weight, see `streams.lanes`).

Why one agent per lane and not one over all topics: an agent's loop blocks when its lane has
too many queries taken and waiting; Faust's per-partition flow control then stops fetching that
lane's partitions once its stream buffer is under pressure, while the other lanes' agents keep
reading. So a free backlog stays in Kafka (its partitions paused) and an enterprise query is read
and admitted at the next free slot. `create_app` caps the records one poll may hand over, so a
paused lane's buffer never fills up and blocks delivery to the others.

An event is taken into `InFlight` when it is read and released only after its output is
published and confirmed by Kafka; acks go to Faust in offset order per partition. A waiting
query is not done, so it holds back its partition's commit: a worker killed at any moment leaves
its unfinished and waiting queries uncommitted, and another worker handles them again (the reply
store makes that repeat free).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, cast

import faust
from faust import Stream
from faust.types import TP, EventT, Message, StreamT
from opentelemetry.trace import Span, SpanKind

from schemas.events import MalformedEvent, decode_query
from schemas.vocabulary import Tier
from streams import tracing
from streams.admission import PriorityGate
from streams.in_flight import InFlight
from streams.lanes import DEFAULT_WEIGHTS, LOWEST_LANE
from streams.large_records import LargeRecordProducer, sending_large_apart
from streams.metrics import IN_FLIGHT
from streams.outgoing import Outgoing
from streams.pipeline.route_pipeline import RoutePipeline
from streams.publishing import Send, publish_all, refusing_missing_topics
from streams.reply_topics import TopicDirectory
from streams.tracing import TraceStamp, messaging_attributes

logger = logging.getLogger("mobius.route")

LaneOf = Callable[[bytes], Tier]


def register_route_agent(
    app: faust.App,
    queries_topic: str,
    make_pipeline: Callable[[], Awaitable[RoutePipeline]],
    max_in_flight: int,
    *,
    topics: TopicDirectory,
    own_topics: frozenset[str],
    lane_topics: Mapping[Tier, str] | None = None,
    lane_weights: Mapping[Tier, int] = DEFAULT_WEIGHTS,
    large: LargeRecordProducer | None = None,
    dead_letter_topics: frozenset[str] = frozenset(),
) -> None:
    """Add the route agents to `app`: queries in, replies, records and dead letters out (a record
    for a topic other than `own_topics` goes out only if `topics` says it exists; a large one,
    a dead letter for one of `dead_letter_topics`, by `large` when given)."""
    send = _sender(app)
    if large is not None:  # dead letters only: replies and chunks keep one producer, in order
        send = sending_large_apart(send, large, dead_letter_topics)
    shared = _Shared(
        make_pipeline=_once(make_pipeline),
        send=refusing_missing_topics(send, topics, own_topics),
        gate=PriorityGate(max_in_flight, lane_weights),
        in_flight=InFlight(),
        # Twice the slots: a lane holding every slot still has queries waiting at the gate, so a
        # freed slot goes by weight, not to whichever lane happens to have one read already.
        max_taken=2 * max_in_flight,
    )

    def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked = set(kwargs.get("revoked") or (args[0] if args else ()))
        shared.in_flight.forget(revoked)
        # Queries still waiting for a slot are their partition's next owner's now: stop waiting
        # (one already running finishes; its ack is dropped and the reply store absorbs the repeat).
        for (tp, _), waiter in list(shared.waiters.items()):
            if tp in revoked:
                waiter.cancel()

    app.on_partitions_revoked.connect(on_revoked)
    _register_input(app, "route", queries_topic, tier_of, shared)
    for tier, topic in (lane_topics or {}).items():
        _register_input(app, f"route-{tier}", topic, _constant(tier), shared)


def tier_of(raw: bytes) -> Tier:
    """The lane of an event on the plain queries topic: its tier (unreadable: the lowest lane,
    where it waits only to become a dead letter)."""
    try:
        return decode_query(raw).tier
    except MalformedEvent:
        return LOWEST_LANE


class _Shared:
    """What every route agent of one worker shares: one pipeline, one gate, one ack order."""

    def __init__(
        self,
        *,
        make_pipeline: Callable[[], Awaitable[RoutePipeline]],
        send: Send,
        gate: PriorityGate,
        in_flight: InFlight,
        max_taken: int,
    ) -> None:
        self.make_pipeline = make_pipeline
        self.send = send
        self.gate = gate
        self.in_flight = in_flight
        self.max_taken = max_taken
        # Tasks of the events taken and not yet admitted, by (partition, offset).
        self.waiters: dict[tuple[TP, int], asyncio.Task[None]] = {}

    def admitted(self, tp: TP, offset: int) -> None:
        """The current task waits no more (a redelivered copy of its event may wait under its key)."""
        if self.waiters.get((tp, offset)) is asyncio.current_task():
            del self.waiters[(tp, offset)]


def _register_input(app: faust.App, name: str, topic_name: str, lane_of: LaneOf, shared: _Shared) -> None:
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes)
    in_flight = shared.in_flight

    @app.agent(topic, name=name)
    async def route(stream: StreamT[Any]) -> None:
        pipeline = await shared.make_pipeline()
        manual = cast(Stream[bytes], stream).noack()
        # Events this agent has taken and not finished (waiting or running): when its lane waits
        # this is full, the loop stops reading, and Faust pauses the lane's partitions.
        taken = asyncio.Semaphore(shared.max_taken)
        tasks: set[asyncio.Task[None]] = set()

        async def handle(event: EventT[Any]) -> None:
            message = event.message
            source = f"{message.tp.topic}[{message.tp.partition}]@{message.offset}"
            data = message.value if isinstance(message.value, bytes) else b""
            try:
                async with shared.gate.slot(lane_of(data)):
                    shared.admitted(message.tp, message.offset)
                    if not in_flight.holds(event):  # revoked while it waited: its next owner has it
                        return
                    chunks = ChunkPublisher(shared.send)
                    with _process_span(message, app.conf.id) as span:
                        stamp = TraceStamp.of(span)
                        records = await _safe_handle(pipeline, data, source, stamp, chunks)
                        await publish_all(shared.send, records, pipeline.topics.dlq, source)
                        await chunks.confirmed()
                    for ready in in_flight.release(event):
                        await manual.ack(ready)
            finally:
                shared.admitted(message.tp, message.offset)
                taken.release()
                IN_FLIGHT.dec()

        async for event in manual.events():
            await taken.acquire()
            if event.message.generation_id != app.consumer_generation_id:
                # A rebalance came while this lane waited: Faust seeks every partition back to
                # its committed offset and delivers this event again (as its own stream does).
                taken.release()
                continue
            in_flight.take(event)
            IN_FLIGHT.inc()
            task = asyncio.create_task(handle(event))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            shared.waiters[(event.message.tp, event.message.offset)] = task


def _constant(tier: Tier) -> LaneOf:
    def lane(raw: bytes) -> Tier:
        return tier

    return lane


def _once(make: Callable[[], Awaitable[RoutePipeline]]) -> Callable[[], Awaitable[RoutePipeline]]:
    """The agents start together; they share the one pipeline (one LiteLLM Router, one Redis pool)."""
    made: asyncio.Future[RoutePipeline] | None = None

    async def get() -> RoutePipeline:
        nonlocal made
        if made is None:
            made = asyncio.ensure_future(make())
        return await asyncio.shield(made)

    return get


def _sender(app: faust.App) -> Send:
    """Hands one record to the app's producer; returns the future Kafka's acknowledgement resolves.
    The producer itself, not `app.topic(...).send`: a topic's send goes through Faust's channel,
    its pending-message objects and sensors (~90 us of CPU a record against ~20 us here), none of
    which this pipeline reads; the producer, its acks and its ordering are the same."""

    async def send(record: Outgoing) -> Awaitable[object]:
        producer = await app.maybe_start_producer()  # started with the app; Topic.send asks the same
        headers = list(record.headers)
        sent: Awaitable[object] = await producer.send(
            record.topic, record.key, record.value, partition=None, timestamp=None, headers=headers
        )
        return sent

    return send


def _process_span(message: Message, group: str) -> AbstractContextManager[Span]:
    """The route of one query as a consumer span, continuing the trace its headers carry."""
    attributes = messaging_attributes(
        "process",
        message.tp.topic,
        {
            "messaging.destination.partition.id": str(message.tp.partition),
            "messaging.kafka.offset": message.offset,
            "messaging.consumer.group.name": group,
        },
    )
    return tracing.span(
        f"process {message.tp.topic}",
        kind=SpanKind.CONSUMER,
        parent=tracing.context_from(message.headers),
        attributes=attributes,
    )


class ChunkPublisher:
    """The pipeline's ChunkSink: each chunk handed to the producer at once (same topic and key as
    the final reply, so Kafka keeps them in order before it). A chunk Kafka refuses is only logged:
    the final reply carries the whole text, and it is what the ack waits for."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.pending: list[Awaitable[object]] = []

    async def __call__(self, record: Outgoing) -> None:
        try:
            self.pending.append(await self.send(record))
        except Exception as exc:  # noqa: BLE001 - a lost chunk must not fail the query
            logger.warning("chunk for %s not sent: %s", record.key[:200].decode(errors="replace"), exc)

    async def confirmed(self) -> None:
        for result in await asyncio.gather(*self.pending, return_exceptions=True):
            if isinstance(result, Exception):
                logger.warning("a chunk was not confirmed by Kafka: %s", result)
        self.pending.clear()


async def _safe_handle(
    pipeline: RoutePipeline,
    data: bytes,
    source: str,
    trace: TraceStamp,
    chunks: ChunkPublisher | None = None,
) -> list[Outgoing]:
    try:
        return await pipeline.handle(data, source, trace, chunks)
    except Exception as exc:  # a bug must cost one dead letter, never the worker or the message
        logger.exception("internal error routing %s", source)
        return pipeline.internal_error(data, source, exc, trace)
