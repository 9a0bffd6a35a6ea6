"""The pipeline with in-memory fakes: every outcome of a query and the records it makes."""

from __future__ import annotations

import pytest

from routing.outcomes import LLMError
from schemas.events import decode_completion, decode_reply, encode_query
from streams.config import TopicNames
from streams.outgoing import Outgoing
from streams.pipeline.route_pipeline import RoutePipeline
from streams.tracing import TraceStamp
from tests.support.events import QUERY
from tests.support.fakes import FakeCompleter, MemoryReplyStore
from tests.support.route_pipelines import fake_pipeline

TOPICS = TopicNames()


def _pipeline(llm: FakeCompleter, store: MemoryReplyStore | None = None) -> RoutePipeline:
    return fake_pipeline(llm, replies=store)


def _by_topic(out: list[Outgoing]) -> dict[str, Outgoing]:
    return {o.topic: o for o in out}


async def test_an_answered_query_makes_a_reply_and_a_completion_record() -> None:
    llm = FakeCompleter()
    out = _by_topic(await _pipeline(llm).handle(encode_query(QUERY), "q[0]@1"))
    reply = decode_reply(out["mobius.replies"].value)
    record = decode_completion(out[TOPICS.completions].value)
    assert out["mobius.replies"].key == b"r-1"
    assert (reply.status, reply.content, reply.model_group, reply.cost_nano_usd) == (
        "ok",
        "answer from fast",
        "fast",
        4 + 3,  # "Hi" counts 4 prompt tokens here, at 1 nano-USD a token on `fast`
    )
    assert reply.usage is not None and reply.usage.total_tokens == 7
    assert llm.calls == [("fast", 64)]  # pro tier, max_tokens hint 64
    assert (record.user_id, record.org_id, record.tier, record.query_type) == ("u-7", "acme", "pro", "simple")
    assert (record.status, record.cost_nano_usd, record.worker_id) == ("ok", 7, "w1")
    assert not reply.budget_downgraded and not reply.cache_hit
    assert (record.route_cause, record.p_simple, record.p_complex) == (
        "model",
        pytest.approx(0.97),
        pytest.approx(0.01),
    )


async def test_a_provider_failure_is_an_error_reply_with_its_code() -> None:
    llm = FakeCompleter(fail=LLMError("provider_unavailable", "all down", ["openai/gpt-4o-mini"]))
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
    out = await _pipeline(FakeCompleter()).handle(b"\x00garbage", "q[2]@9")
    assert [o.topic for o in out] == [TOPICS.dlq]
    headers = dict(out[0].headers)
    assert out[0].value == b"\x00garbage"
    assert b"Confluent" in headers["mobius.dlq.reason"] and headers["mobius.dlq.source"] == b"q[2]@9"


async def test_a_huge_request_id_is_not_used_as_a_key_or_a_reply() -> None:
    """A poison pill: its id must not become a 10 MB key, nor its reply a 10 MB record."""
    raw = encode_query(QUERY.model_copy(update={"request_id": "x" * 1_000_000}))
    out = await _pipeline(FakeCompleter()).handle(raw, "q[0]@5")
    assert [o.topic for o in out] == [TOPICS.dlq]
    assert out[0].key == b""
    assert len(dict(out[0].headers)["mobius.dlq.reason"]) <= 1000


@pytest.mark.parametrize(
    "reply_to", ["__consumer_offsets", "mobius.queries", "mobius.completions", "created-by-query-1"]
)
async def test_a_reply_topic_outside_the_allowed_ones_is_a_dead_letter_and_never_published_to(
    reply_to: str,
) -> None:
    llm, store = FakeCompleter(), MemoryReplyStore()
    out = await _pipeline(llm, store).handle(encode_query(QUERY.model_copy(update={"reply_to": reply_to})))
    assert [o.topic for o in out] == [TOPICS.dlq]
    assert out[0].key == b"r-1"
    assert "not an allowed reply topic" in dict(out[0].headers)["mobius.dlq.reason"].decode()
    assert llm.calls == []


async def test_a_malformed_query_naming_a_refused_reply_topic_gets_no_error_reply() -> None:
    bad = QUERY.model_copy(update={"reply_to": "mobius.queries", "messages": ()})
    out = await _pipeline(FakeCompleter()).handle(encode_query(bad))
    assert [o.topic for o in out] == [TOPICS.dlq]


async def test_a_repeat_is_answered_from_the_store_without_a_provider_call() -> None:
    llm, store = FakeCompleter(), MemoryReplyStore()
    pipeline = _pipeline(llm, store)
    first = await pipeline.handle(encode_query(QUERY))
    again = await pipeline.handle(encode_query(QUERY))
    assert len(llm.calls) == 1
    assert [(o.topic, o.value) for o in again] == [(o.topic, o.value) for o in first]


async def test_an_unexpected_bug_is_dead_lettered_and_answered() -> None:
    out = _pipeline(FakeCompleter()).internal_error(encode_query(QUERY), "q[0]@3", KeyError("boom"))
    topics = [o.topic for o in out]
    assert topics == [TOPICS.dlq, "mobius.replies"]
    assert b"internal error: KeyError" in dict(out[0].headers)["mobius.dlq.reason"]


@pytest.mark.parametrize("tier", ["free", "pro"])
async def test_a_past_deadline_is_refused_without_a_provider_call(tier: str) -> None:
    llm = FakeCompleter()
    late = QUERY.model_copy(update={"tier": tier, "deadline": QUERY.created_at})
    out = _by_topic(await _pipeline(llm).handle(encode_query(late)))
    assert decode_reply(out["mobius.replies"].value).error_code == "deadline_exceeded"
    assert llm.calls == []


async def test_an_unknown_group_hint_is_an_error_reply_not_a_dead_letter() -> None:
    hinted = QUERY.model_copy(
        update={"tier": "enterprise", "hints": QUERY.hints.model_copy(update={"model_group": "nope"})}  # type: ignore[union-attr]
    )
    out = _by_topic(await _pipeline(FakeCompleter()).handle(encode_query(hinted)))
    assert TOPICS.dlq not in out
    assert decode_reply(out["mobius.replies"].value).error_code == "unknown_model_group"


STAMP = TraceStamp("4bf92f3577b34da6a3ce929d0e0e4736", (("traceparent", b"00-4bf9...-01"),))


async def test_every_record_of_a_query_carries_its_trace() -> None:
    answered = await _pipeline(FakeCompleter()).handle(encode_query(QUERY), "q[0]@1", STAMP)
    reply, record = (decode_reply(answered[0].value), decode_completion(answered[1].value))
    assert reply.trace_id == record.trace_id == STAMP.trace_id
    assert all(o.headers == STAMP.headers for o in answered)
    dead = await _pipeline(FakeCompleter()).handle(b"\x00bad", "q[0]@2", STAMP)
    assert [o.topic for o in dead] == [TOPICS.dlq] and dead[0].headers[-1] == STAMP.headers[0]
