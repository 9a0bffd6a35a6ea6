"""Publishing a query's records before its offset may be committed.

Kafka being unavailable means nothing can progress: such failures are retried with backoff and
the query is never acknowledged meanwhile. A record Kafka can never take (too large, an invalid
topic, no authorization, a reply topic that does not exist) is not retried: it becomes a dead
letter saying why, so one bad record cannot wedge its partition.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)

from schemas.events import MAX_REASON
from schemas.vocabulary import DLQ_ORIGINAL_BYTES, DLQ_REASON, DLQ_SOURCE
from streams.outgoing import Outgoing
from streams.reply_topics import TopicDirectory
from streams.retrying import until_done

logger = logging.getLogger("mobius.publish")
# Hands a record to the producer and returns what resolves once Kafka (acks=all) has it: records
# are handed over together and confirmed together, as one produce round trip.
Send = Callable[[Outgoing], Awaitable[Awaitable[object]]]


class MissingTopic(Exception):
    """A record for a topic that does not exist: queries never create topics."""


# Errors no retry can cure: the record or its topic is wrong, not the broker's state.
UNPUBLISHABLE: tuple[type[Exception], ...] = (
    MissingTopic,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
)
# What a dead letter about an unpublishable record keeps of it at most.
UNPUBLISHABLE_KEEP_BYTES = 64 * 1024


class Unpublishable(Exception):
    """A record Kafka refused for good."""


async def publish_all(send: Send, records: list[Outgoing], dlq_topic: str, source: str) -> None:
    """Publish every record, each confirmed by Kafka; retry what failed for a passing reason,
    dead-letter what Kafka can never take."""
    handed: list[tuple[Outgoing, Awaitable[object]]] = []
    failed: list[tuple[Outgoing, Exception]] = []
    for record in records:
        try:
            handed.append((record, await send(record)))
        except Exception as exc:  # noqa: BLE001 - every failure goes to the careful path below
            failed.append((record, exc))
    for record, confirmation in handed:
        try:
            await confirmation
        except Exception as exc:  # noqa: BLE001 - as above
            failed.append((record, exc))
    for record, first_error in failed:
        cause = _unpublishable_cause(first_error)
        try:
            if cause is not None:
                raise Unpublishable(f"{type(cause).__name__}: {cause}"[:MAX_REASON]) from first_error
            await _send_until_done(send, record)
        except Unpublishable as exc:
            logger.error("cannot publish to %s (%s): dead-lettered instead", record.topic, exc)
            await _send_until_done(send, unpublishable_letter(record, str(exc), dlq_topic, source))


def refusing_missing_topics(send: Send, directory: TopicDirectory, own_topics: Collection[str]) -> Send:
    """`send`, except that a record for a topic that does not exist (other than the pipeline's own,
    which the worker creates at start) fails with MissingTopic instead of waiting on metadata."""

    async def checked(record: Outgoing) -> Awaitable[object]:
        if record.topic not in own_topics and not await directory.exists(record.topic):
            raise MissingTopic(f"topic {record.topic[:249]!r} does not exist (queries never create topics)")
        return await send(record)

    return checked


def unpublishable_letter(record: Outgoing, reason: str, dlq_topic: str, source: str) -> Outgoing:
    """A dead letter small enough to publish: the head of the value, its size and the reason
    (a dead letter too large itself keeps its own reason and source)."""
    size = (DLQ_ORIGINAL_BYTES, str(len(record.value)).encode())
    if record.topic == dlq_topic:
        headers = (*record.headers, size)
    else:
        why = f"unpublishable record for {record.topic[:249]}: {reason}"[:MAX_REASON]
        headers = ((DLQ_REASON, why.encode()), (DLQ_SOURCE, source.encode()), size)
    return Outgoing(dlq_topic, record.key[:200], record.value[:UNPUBLISHABLE_KEEP_BYTES], headers)


def _unpublishable_cause(exc: BaseException) -> BaseException | None:
    """The error no retry can cure, if `exc` is one or wraps one (Faust re-raises the producer's
    errors as its own ProducerSendError, from the original)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, UNPUBLISHABLE):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def _send_until_done(send: Send, record: Outgoing) -> None:
    async def attempt() -> None:
        try:
            await (await send(record))
        except Exception as exc:
            cause = _unpublishable_cause(exc)
            if cause is None:
                raise
            raise Unpublishable(f"{type(cause).__name__}: {cause}"[:MAX_REASON]) from exc

    # Anything else (the broker away, the producer restarting) is retried: never ack unpublished work.
    await until_done(
        attempt,
        retry_on=Exception,
        give_up_on=(Unpublishable,),
        what=f"publishing to {record.topic}",
        logger=logger,
    )
