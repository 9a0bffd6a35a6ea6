"""Reply topics: which a query may name, and which exist."""

from __future__ import annotations

import asyncio

import pytest

from streams.reply_topics import ReplyTopics, TopicDirectory

DEFAULT = ReplyTopics.under("mobius.replies")


@pytest.mark.parametrize("topic", ["mobius.replies", "mobius.replies.billing", "mobius.replies.a.b"])
def test_the_default_allows_the_replies_topic_and_those_below_it(topic: str) -> None:
    assert DEFAULT.allows(topic)


@pytest.mark.parametrize(
    "topic",
    [
        "__consumer_offsets",
        "mobius.queries",
        "mobius.completions",
        "mobius.dlq",
        "mobius.repliesX",  # a prefix of the name is not the topic or one below it
        "created-by-query-1",
        "MOBIUS.REPLIES",
    ],
)
def test_the_default_refuses_every_other_topic(topic: str) -> None:
    assert not DEFAULT.allows(topic)
    assert topic in DEFAULT.refusal(topic) and "mobius.replies.*" in DEFAULT.refusal(topic)


def test_exact_and_prefix_patterns() -> None:
    topics = ReplyTopics(("svc-a.replies", "team-b.*"))
    assert topics.allows("svc-a.replies") and topics.allows("team-b.anything")
    assert not topics.allows("svc-a.replies.x") and not topics.allows("mobius.replies")


def test_a_refusal_quotes_a_bounded_name() -> None:
    assert len(DEFAULT.refusal("x" * 100_000)) < 400


async def test_a_known_topic_is_not_looked_up_again_and_a_miss_always_is() -> None:
    cluster = {"mobius.replies"}
    lookups = 0

    async def list_topics() -> set[str]:
        nonlocal lookups
        lookups += 1
        return set(cluster)

    directory = TopicDirectory(list_topics)
    assert await directory.exists("mobius.replies")
    assert await directory.exists("mobius.replies")
    assert lookups == 1
    assert not await directory.exists("mobius.replies.new")
    cluster.add("mobius.replies.new")  # a caller creates its topic, then sends its query
    assert await directory.exists("mobius.replies.new")
    assert lookups == 3


async def test_concurrent_misses_each_see_a_look_up_that_started_after_them() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    cluster: set[str] = set()

    async def list_topics() -> set[str]:
        snapshot = set(cluster)  # what the broker knew when this look-up began
        started.set()
        await release.wait()
        return snapshot

    directory = TopicDirectory(list_topics)
    first = asyncio.create_task(directory.exists("a"))
    await started.wait()
    cluster.add("b")  # created while the first look-up is under way
    second = asyncio.create_task(directory.exists("b"))
    release.set()
    assert (await first, await second) == (False, True)
