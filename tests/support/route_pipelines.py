"""A RoutePipeline on in-memory fakes: the default policy, fake classifier, a token count from
the text's length; each test passes only the parts it is about."""

from __future__ import annotations

from typing import Any

from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.router_config import load_router_config
from schemas.events import ReplyChunk, decode_reply_record
from streams.config import TopicNames
from streams.outgoing import Outgoing
from streams.pipeline.route_pipeline import RoutePipeline
from tests.support.fakes import FakeClassifier, FakeCompleter

TOPICS = TopicNames()
POLICY = load_router_config(DEFAULT_ROUTER_CONFIG).mobius


def fake_pipeline(llm: FakeCompleter, **parts: Any) -> RoutePipeline:
    """`parts` are RoutePipeline's keyword arguments (replies, budgets, cache, policy, ...)."""
    defaults: dict[str, Any] = {
        "classifier": FakeClassifier(),
        "policy": POLICY,
        "count_tokens": lambda messages: sum(len(m["content"]) // 4 + 4 for m in messages),
        "topics": TOPICS,
        "worker_id": "w1",
    }
    return RoutePipeline(completer=llm, **(defaults | parts))


class RecordingChunkSink:
    """A ChunkSink that keeps what it was handed, in order."""

    def __init__(self) -> None:
        self.records: list[Outgoing] = []

    async def __call__(self, record: Outgoing) -> None:
        self.records.append(record)

    def chunks(self) -> list[ReplyChunk]:
        decoded = [decode_reply_record(r.value) for r in self.records]
        assert all(isinstance(c, ReplyChunk) for c in decoded)
        return [c for c in decoded if isinstance(c, ReplyChunk)]

    def texts(self) -> list[str]:
        return [c.text for c in self.chunks()]
