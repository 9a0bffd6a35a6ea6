"""Which topics a query may name as its `reply_to`, and which topics exist.

A query comes from outside: left unchecked, its reply_to could point the worker at Kafka's own
topics (`__consumer_offsets`), at the pipeline's inputs (`mobius.queries`), or at a name that does
not exist (which a broker with auto-creation would create). So a reply goes only to a topic that
matches an allowed pattern and already exists; anything else is a dead letter with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyTopics:
    """Allowed reply topics: a pattern ending in `*` is a prefix, any other is one exact name."""

    patterns: tuple[str, ...]

    @classmethod
    def under(cls, replies: str) -> ReplyTopics:
        """The default: the configured reply topic and every topic below it (`mobius.replies.*`)."""
        return cls((replies, f"{replies}.*"))

    def allows(self, topic: str) -> bool:
        return any(
            topic.startswith(pattern[:-1]) if pattern.endswith("*") else topic == pattern
            for pattern in self.patterns
        )

    def refusal(self, topic: str) -> str:
        """Why `topic` is refused, quoting at most 249 characters of it (Kafka's longest name)."""
        return f"reply_to {topic[:249]!r} is not an allowed reply topic (allowed: {', '.join(self.patterns)})"


class TopicDirectory:
    """The topics that exist, looked up again when a name is not known yet.

    Sending to a missing topic makes a broker without auto-creation answer nothing but a metadata
    timeout, which looks like the broker being away and would be retried forever; asking first
    turns it into a clear refusal. A miss always asks the broker once more (after any look-up
    already under way), so a topic a caller created just before sending its query is found.
    """

    def __init__(self, list_topics: Callable[[], Awaitable[Iterable[str]]]) -> None:
        self._list_topics = list_topics
        self._known: set[str] = set()
        self._lock = asyncio.Lock()

    async def exists(self, topic: str) -> bool:
        if topic in self._known:
            return True
        async with self._lock:  # one look-up at a time; each miss gets one of its own
            if topic not in self._known:
                self._known |= set(await self._list_topics())
        return topic in self._known
