"""Reply topics a query names: only allowed, existing topics are published to, and no query ever
creates a topic; a refused reply topic is a dead letter and the partition keeps committing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from mobius.settings import MobiusSettings
from schemas.events import ChatMessage, QueryEvent, encode_query, now_utc
from schemas.vocabulary import DLQ_REASON
from streams.client import MobiusClient
from streams.topics import LagProbe, list_topics
from tests.support.pipeline import Pipeline, read_until, running_pipeline, topic_reader, wait_until_serving


@pytest.fixture(scope="module")
def pipeline(stack_settings: MobiusSettings) -> Iterator[Pipeline]:
    with running_pipeline(stack_settings) as running:
        yield running


def _query(reply_to: str) -> QueryEvent:
    return QueryEvent(
        request_id=f"rt-{uuid.uuid4().hex[:8]}",
        created_at=now_utc(),
        user_id="u-reply",
        tier="pro",
        messages=(ChatMessage(role="user", content="What is the capital of Peru?"),),
        reply_to=reply_to,
    )


async def test_queries_naming_other_topics_are_dead_letters_and_create_nothing(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    replies = settings.topics.replies
    refused = {
        "__consumer_offsets": "not an allowed reply topic",
        settings.topics.queries: "not an allowed reply topic",
        settings.topics.completions: "not an allowed reply topic",
        f"created-by-query-{uuid.uuid4().hex[:6]}": "not an allowed reply topic",
        f"{replies}.never-created-{uuid.uuid4().hex[:6]}": "does not exist",
    }
    queries = {topic: _query(topic) for topic in refused}
    async with (
        MobiusClient(settings.kafka, settings.topics) as client,
        topic_reader(settings, settings.topics.dlq) as dlq,
    ):
        await wait_until_serving(client)
        for query in queries.values():
            await client.publish_raw(encode_query(query), key=query.user_id.encode())
        # The same user's next query (same partition, behind the refused ones) is answered.
        after = await client.ask(
            [{"role": "user", "content": "And of Chile?"}], user_id="u-reply", tier="pro", timeout=60
        )
        assert after.status == "ok", after
        letters = await read_until(dlq, len(queries), timeout=60)
    reasons = {r.key.decode(): dict(r.headers)[DLQ_REASON].decode() for r in letters if r.key}
    for topic, words in refused.items():
        assert words in reasons[queries[topic].request_id], (topic, reasons)
    existing = set(await list_topics(settings.kafka))
    assert not {t for t in refused if t.startswith(("created-by-query", f"{replies}.never"))} & existing

    probe = LagProbe(settings.kafka, settings.worker_group, settings.topics.queries)
    await probe.start()
    try:
        async with asyncio.timeout(30):  # every partition's commits move past the refused queries
            while await probe.lag() > 0:
                await asyncio.sleep(0.2)
    finally:
        await probe.stop()


async def test_a_reply_topic_a_caller_created_below_the_replies_topic_is_answered(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    own = f"{settings.topics.replies}.svc-{uuid.uuid4().hex[:6]}"
    async with MobiusClient(settings.kafka, settings.topics, reply_topic=own) as client:
        reply = await client.ask(
            [{"role": "user", "content": "What is the capital of Peru?"}],
            user_id="u-own",
            tier="pro",
            timeout=90,
        )
    assert reply.status == "ok", reply
