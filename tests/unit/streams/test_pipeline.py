"""The pipeline with a fake LLM and an in-memory reply store: every outcome and the records it makes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from routing.outcomes import LLMError, LLMResult
from routing.router_config import load_router_config
from schemas.events import decode_completion, decode_reply, encode_query
from streams.pipeline import RoutePipeline
from streams.pipeline_types import Outgoing
from streams.settings import DEFAULT_ROUTER_CONFIG, TopicNames
from tests.support_events import QUERY

TOPICS = TopicNames()


@dataclass
class FakeLLM:
    fail: LLMError | None = None
    calls: list[tuple[str, int]] = field(default_factory=list)
    group_windows: dict[str, int] = field(
        default_factory=lambda: {
            "fast": 128_000,
            "smart": 200_000,
            "code": 1_000_000,
            "long-context": 1_000_000,
        }
    )

    async def complete(
        self,
        request_id: str,
        group: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        prompt_tokens: int | None = None,
    ) -> LLMResult:
        self.calls.append((group, max_tokens))
        if self.fail:
            raise self.fail
        return LLMResult(
            content="answer",
            group=group,
            model="openai/gpt-4o-mini",
            provider="openai",
            prompt_tokens=9,
            completion_tokens=3,
            cost_nano_usd=3150,
            provider_latency_ms=12,
            attempted_models=("openai/gpt-4o-mini",),
            fallbacks=0,
            retries=0,
        )


@dataclass
class MemoryStore:
    kept: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    async def get(self, request_id: str) -> tuple[bytes, bytes] | None:
        return self.kept.get(request_id)

    async def put(self, request_id: str, reply: bytes, completion: bytes) -> None:
        self.kept[request_id] = (reply, completion)


def _pipeline(llm: FakeLLM, store: MemoryStore | None = None) -> RoutePipeline:
    return RoutePipeline(
        completer=llm,
        policy=load_router_config(DEFAULT_ROUTER_CONFIG).mobius,
        count_tokens=lambda messages: sum(len(m["content"]) // 4 + 4 for m in messages),
        topics=TOPICS,
        worker_id="w1",
        replies=store,
    )


def _by_topic(out: list[Outgoing]) -> dict[str, Outgoing]:
    return {o.topic: o for o in out}


async def test_an_answered_query_makes_a_reply_and_a_completion_record() -> None:
    llm = FakeLLM()
    out = _by_topic(await _pipeline(llm).handle(encode_query(QUERY), "q[0]@1"))
    reply = decode_reply(out["mobius.replies"].value)
    record = decode_completion(out[TOPICS.completions].value)
    assert out["mobius.replies"].key == b"r-1"
    assert (reply.status, reply.content, reply.model_group, reply.cost_nano_usd) == (
        "ok",
        "answer",
        "fast",
        3150,
    )
    assert reply.usage is not None and reply.usage.total_tokens == 12
    assert llm.calls == [("fast", 64)]  # pro tier, max_tokens hint 64
    assert (record.user_id, record.org_id, record.tier, record.query_type) == ("u-7", "acme", "pro", "simple")
    assert (record.status, record.cost_nano_usd, record.worker_id) == ("ok", 3150, "w1")


async def test_a_provider_failure_is_an_error_reply_with_its_code() -> None:
    llm = FakeLLM(fail=LLMError("provider_unavailable", "all down", ["openai/gpt-4o-mini"]))
    out = _by_topic(await _pipeline(llm).handle(encode_query(QUERY)))
    reply = decode_reply(out["mobius.replies"].value)
    record = decode_completion(out[TOPICS.completions].value)
    assert (reply.status, reply.error_code, reply.error_message) == (
        "error",
        "provider_unavailable",
        "all down",
    )
    assert record.status == "error" and record.attempted_models == ("openai/gpt-4o-mini",)


async def test_bad_bytes_become_a_dead_letter_with_the_reason() -> None:
    out = await _pipeline(FakeLLM()).handle(b"\x00garbage", "q[2]@9")
    assert [o.topic for o in out] == [TOPICS.dlq]
    headers = dict(out[0].headers)
    assert out[0].value == b"\x00garbage"
    assert b"Confluent" in headers["mobius.dlq.reason"] and headers["mobius.dlq.source"] == b"q[2]@9"


async def test_a_repeat_is_answered_from_the_store_without_a_provider_call() -> None:
    llm, store = FakeLLM(), MemoryStore()
    pipeline = _pipeline(llm, store)
    first = await pipeline.handle(encode_query(QUERY))
    again = await pipeline.handle(encode_query(QUERY))
    assert len(llm.calls) == 1
    assert [(o.topic, o.value) for o in again] == [(o.topic, o.value) for o in first]


async def test_an_unexpected_bug_is_dead_lettered_and_answered() -> None:
    out = _pipeline(FakeLLM()).internal_error(encode_query(QUERY), "q[0]@3", KeyError("boom"))
    topics = [o.topic for o in out]
    assert topics == [TOPICS.dlq, "mobius.replies"]
    assert b"internal error: KeyError" in dict(out[0].headers)["mobius.dlq.reason"]


@pytest.mark.parametrize("tier", ["free", "pro"])
async def test_a_past_deadline_is_refused_without_a_provider_call(tier: str) -> None:
    llm = FakeLLM()
    late = QUERY.model_copy(update={"tier": tier, "deadline": QUERY.created_at})
    out = _by_topic(await _pipeline(llm).handle(encode_query(late)))
    assert decode_reply(out["mobius.replies"].value).error_code == "deadline_exceeded"
    assert llm.calls == []
