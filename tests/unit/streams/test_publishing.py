"""Publishing: transient failures are retried, records Kafka can never take become dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest
from aiokafka.errors import InvalidTopicError, KafkaConnectionError, MessageSizeTooLargeError

from schemas.vocabulary import DLQ_ORIGINAL_BYTES, DLQ_REASON
from streams.outgoing import Outgoing
from streams.publishing import UNPUBLISHABLE_KEEP_BYTES, publish_all, refusing_missing_topics
from streams.reply_topics import TopicDirectory


class FlakyBroker:
    def __init__(self, failures: dict[str, list[Exception]]) -> None:
        self.failures = failures
        self.sent: list[Outgoing] = []

    async def send(self, record: Outgoing) -> Awaitable[object]:
        """Hands over; the returned future fails as a broker's acknowledgement would."""
        confirmation: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        pending = self.failures.get(record.topic) or []
        if pending:
            confirmation.set_exception(pending.pop(0))
        else:
            self.sent.append(record)
            confirmation.set_result(None)
        return confirmation


async def test_a_broker_hiccup_is_retried_until_the_record_lands() -> None:
    broker = FlakyBroker({"replies": [KafkaConnectionError(), KafkaConnectionError()]})
    await publish_all(broker.send, [Outgoing("replies", b"k", b"v")], "dlq", "q[0]@1")
    assert [r.topic for r in broker.sent] == ["replies"]


class ProducerSendError(Exception):
    """What Faust raises instead, from the producer's own error."""


def _wrapped(error: Exception) -> Exception:
    try:
        raise ProducerSendError(f"Error while sending: {error!r}") from error
    except ProducerSendError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error", [MessageSizeTooLargeError(), InvalidTopicError(), _wrapped(MessageSizeTooLargeError())]
)
async def test_an_unpublishable_record_becomes_a_small_dead_letter(error: Exception) -> None:
    broker = FlakyBroker({"__consumer_offsets": [error]})
    huge = Outgoing("__consumer_offsets", b"k" * 10_000, b"x" * 20_000_000)
    await publish_all(broker.send, [huge, Outgoing("completions", b"k", b"v")], "dlq", "q[0]@7")
    letter = next(r for r in broker.sent if r.topic == "dlq")
    headers = dict(letter.headers)
    assert len(letter.value) == UNPUBLISHABLE_KEEP_BYTES and len(letter.key) <= 200
    assert headers[DLQ_ORIGINAL_BYTES] == b"20000000"
    assert b"__consumer_offsets" in headers[DLQ_REASON]
    assert [r.topic for r in broker.sent].count("completions") == 1


async def test_a_dead_letter_too_large_keeps_its_own_reason() -> None:
    letter = Outgoing("dlq", b"", b"x" * 20_000_000, ((DLQ_REASON, b"invalid QueryEvent"),))
    broker = FlakyBroker({"dlq": [MessageSizeTooLargeError()]})
    await publish_all(broker.send, [letter], "dlq", "q[0]@7")
    headers = dict(broker.sent[0].headers)
    assert headers[DLQ_REASON] == b"invalid QueryEvent" and DLQ_ORIGINAL_BYTES in headers


async def test_a_record_for_a_missing_topic_becomes_a_dead_letter_not_a_wait() -> None:
    broker = FlakyBroker({})

    async def list_topics() -> list[str]:
        return ["mobius.replies"]

    send = refusing_missing_topics(broker.send, TopicDirectory(list_topics), {"completions", "dlq"})
    records = [Outgoing("mobius.replies.gone", b"k", b"v"), Outgoing("completions", b"k", b"v")]
    await asyncio.wait_for(publish_all(send, records, "dlq", "q[0]@9"), timeout=5)
    assert [r.topic for r in broker.sent] == ["completions", "dlq"]
    reason = dict(broker.sent[1].headers)[DLQ_REASON].decode()
    assert "mobius.replies.gone" in reason and "does not exist" in reason
