"""The client matches replies to waiting asks by request id, and shrugs off strangers' bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka.structs import RecordMetadata
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext

from schemas.events import ReplyEvent, encode_reply, now_utc
from streams.client import AskTimeout, MobiusClient
from streams.config import KafkaConfig, TopicNames
from streams.tracing import context_from


@pytest.fixture
async def client() -> AsyncIterator[MobiusClient]:
    """A client that never connects: its reader is fed by hand."""
    unstarted = MobiusClient(KafkaConfig(), TopicNames())
    yield unstarted
    await unstarted.stop()


def _reply(request_id: str) -> bytes:
    return encode_reply(
        ReplyEvent(request_id=request_id, status="ok", content=request_id, answered_at=now_utc())
    )


async def test_each_reply_resolves_the_ask_with_its_request_id(client: MobiusClient) -> None:
    first, second = client.expect("a"), client.expect("b")
    client._deliver(_reply("b"))
    client._deliver(_reply("nobody-asked"))
    client._deliver(b"\x00 not avro")
    assert second.done() and not first.done()
    assert (await second).content == "b"
    client._deliver(_reply("a"))
    assert (await client.wait("a", first, timeout=1)).content == "a"
    assert client._waiting == {"b": second}  # `wait` forgets the ask it answered


async def test_no_reply_in_time_is_an_ask_timeout(client: MobiusClient) -> None:
    future = client.expect("slow")
    with pytest.raises(AskTimeout, match="slow"):
        await client.wait("slow", future, timeout=0.01)
    assert "slow" not in client._waiting


async def test_a_query_goes_to_its_tiers_lane_and_raw_bytes_to_the_queries_topic(
    client: MobiusClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []

    async def send_and_wait(
        topic: str, value: bytes, key: bytes | None = None, headers: object = None
    ) -> RecordMetadata:
        sent.append(topic)
        return RecordMetadata(topic, 0, None, len(sent) - 1, -1, 0, -1)

    monkeypatch.setattr(client._producer, "send_and_wait", send_and_wait)
    for tier in ("enterprise", "pro", "free"):
        await client.publish([{"role": "user", "content": "hi"}], user_id="u1", tier=tier)
    await client.publish_raw(b"bytes as they are")
    assert sent == [
        "mobius.queries.enterprise",
        "mobius.queries.pro",
        "mobius.queries.free",
        "mobius.queries",
    ]


async def test_a_query_carries_the_callers_trace_or_starts_one(
    client: MobiusClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, bytes]] = []

    async def send_and_wait(
        topic: str, value: bytes, key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None
    ) -> RecordMetadata:
        seen.append(dict(headers or []))
        return RecordMetadata(topic, 0, None, 0, -1, 0, -1)

    monkeypatch.setattr(client._producer, "send_and_wait", send_and_wait)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with trace.use_span(NonRecordingSpan(context_span(caller))):
        await client.publish([{"role": "user", "content": "hi"}], user_id="u1", tier="pro")
    await client.publish([{"role": "user", "content": "hi"}], user_id="u1", tier="pro")
    continued, started = (h["traceparent"].decode().split("-") for h in seen)
    assert continued[1] == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace...
    assert continued[2] != "b7ad6b7169203331"  # ...under a span of the client's own
    assert started[1] not in ("0" * 32, continued[1]) and len(started[1]) == 32  # a new trace


def context_span(traceparent: str) -> SpanContext:
    return trace.get_current_span(context_from([("traceparent", traceparent.encode())])).get_span_context()
