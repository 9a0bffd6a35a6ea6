"""Malformed queries: each yields a dead letter with its raw bytes and reason, and an error reply
when its reply_to is readable; the worker keeps serving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from mobius.settings import MobiusSettings
from schemas.codec import AvroCodec
from schemas.events import QUERY_CODEC, ChatMessage, QueryEvent, encode_query, now_utc
from streams.client import MobiusClient
from streams.topics import LagProbe
from tests.support.pipeline import Pipeline, read_until, running_pipeline, topic_reader, wait_until_serving


@pytest.fixture(scope="module")
def pipeline(stack_settings: MobiusSettings) -> Iterator[Pipeline]:
    with running_pipeline(stack_settings) as running:
        yield running


def _valid(request_id: str, topic: str, **changes: object) -> dict[str, object]:
    event = QueryEvent(
        request_id=request_id,
        created_at=now_utc(),
        user_id="u1",
        tier="pro",
        messages=(ChatMessage(role="user", content="hello"),),
        reply_to=topic,
    )
    raw = event.model_dump()
    raw.update(changes)
    return raw


def _cases(reply_to: str) -> dict[str, tuple[bytes, str | None, str]]:
    """name -> (bytes, request id expected in an error reply or None, words of the DLQ reason)."""
    ids = {
        name: f"bad-{name}-{uuid.uuid4().hex[:6]}"
        for name in ("missing_user", "empty_messages", "unknown_tier", "no_reply_to", "too_large")
    }
    foreign = AvroCodec({"type": "record", "name": "Other", "fields": [{"name": "x", "type": "int"}]})
    huge = "lorem ipsum dolor sit amet " * 170_000  # ~4.6 MB, ~1.15M tokens: beyond every window
    return {
        "garbage": (b"\x00\x01not avro at all", None, "Confluent schema id"),
        "bad_magic": (b'{"json": true}', None, "bad magic bytes"),
        "unknown_schema": (foreign.encode({"x": 1}), None, "unknown schema fingerprint"),
        "truncated": (encode_query(QueryEvent.model_validate(_valid("t", reply_to)))[:-6], None, "corrupt"),
        "missing_user": (
            QUERY_CODEC.encode(_valid(ids["missing_user"], reply_to, user_id="")),
            ids["missing_user"],
            "user_id",
        ),
        "empty_messages": (
            QUERY_CODEC.encode(_valid(ids["empty_messages"], reply_to, messages=[])),
            ids["empty_messages"],
            "messages",
        ),
        "unknown_tier": (
            QUERY_CODEC.encode(_valid(ids["unknown_tier"], reply_to, tier="platinum")),
            ids["unknown_tier"],
            "platinum",
        ),
        "no_reply_to": (
            QUERY_CODEC.encode(_valid(ids["no_reply_to"], reply_to, reply_to="")),
            None,
            "reply_to",
        ),
        "too_large": (
            QUERY_CODEC.encode(
                _valid(ids["too_large"], reply_to, messages=[{"role": "user", "content": huge}])
            ),
            ids["too_large"],
            "context_window_exceeded",
        ),
    }


async def test_each_malformed_query_is_dead_lettered_and_answered(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    async with (
        MobiusClient(settings.kafka, settings.topics) as client,
        topic_reader(settings, settings.topics.dlq) as dlq,
    ):
        cases = _cases(client.reply_topic)
        waits = {rid: client.expect(rid) for _, rid, _ in cases.values() if rid}
        for raw, _, _ in cases.values():
            await client.publish_raw(raw, key=b"bad")
        # A good query after the bad ones proves the worker survived them.
        await wait_until_serving(client)
        letters = await read_until(dlq, len(cases), timeout=90)
        replies = {rid: await client.wait(rid, fut, 30) for rid, fut in waits.items()}

    by_value = {record.value: record for record in letters}
    for name, (raw, request_id, reason_words) in cases.items():
        assert raw in by_value, f"{name}: no dead letter carries the raw bytes"
        headers = dict(by_value[raw].headers)
        assert reason_words in headers["mobius.dlq.reason"].decode(), (name, headers)
        assert headers["mobius.dlq.source"].decode().startswith(settings.topics.queries)
        if request_id is not None:
            reply = replies[request_id]
            assert reply.status == "error"
            if name == "too_large":
                assert reply.error_code == "context_window_exceeded"
                assert "largest context window" in (reply.error_message or "")
            else:
                assert reply.error_code == "malformed_event"
                assert reason_words in (reply.error_message or ""), (name, reply)
    assert len(letters) == len(cases)


async def test_a_dead_letter_does_not_hold_back_good_queries(pipeline: Pipeline) -> None:
    async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
        await client.publish_raw(b"junk", key=b"same-user")
        replies = await asyncio.gather(
            *(
                client.ask(
                    [{"role": "user", "content": f"q{i}"}], user_id="same-user", tier="free", timeout=60
                )
                for i in range(5)
            )
        )
    assert all(r.status == "ok" for r in replies)


async def test_a_poison_pill_does_not_wedge_its_partition(pipeline: Pipeline) -> None:
    """A 10 MB request id: its dead letter must not become a 10 MB key plus a 10 MB reply that no
    broker takes; the partition keeps committing and the same user's next queries are answered."""
    settings = pipeline.settings
    async with MobiusClient(settings.kafka, settings.topics) as client:
        poison_event = _valid("ok", client.reply_topic)
        poison_event["request_id"] = "x" * 10_000_000
        poison = QUERY_CODEC.encode(poison_event)
        await client.publish_raw(poison, key=b"poison-user")
        replies = await asyncio.gather(
            *(
                client.ask(
                    [{"role": "user", "content": f"q{i}"}], user_id="poison-user", tier="free", timeout=60
                )
                for i in range(3)
            )
        )
    assert all(r.status == "ok" for r in replies)
    probe = LagProbe(settings.kafka, settings.worker_group, settings.topics.queries)
    await probe.start()
    try:
        async with asyncio.timeout(60):
            while await probe.lag() > 0:  # every offset, the poison pill's included, is committed
                await asyncio.sleep(0.2)
    finally:
        await probe.stop()
