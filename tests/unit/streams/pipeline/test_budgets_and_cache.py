"""Spend caps and the response cache through the pipeline, with in-memory stores: every branch."""

from __future__ import annotations

from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.budgets import caps_for
from routing.outcomes import LLMError
from routing.router_config import MobiusPolicy, load_router_config
from schemas.events import (
    ChatMessage,
    QueryEvent,
    decode_alert,
    decode_completion,
    decode_reply,
    encode_query,
    now_utc,
)
from streams.config import TopicNames
from streams.outgoing import Outgoing
from streams.pipeline.route_pipeline import RoutePipeline
from tests.support.events import QUERY
from tests.support.fakes import FakeCompleter, MemoryBudgetStore, MemoryResponseCache
from tests.support.route_pipelines import fake_pipeline

TOPICS = TopicNames()
POLICY = load_router_config(DEFAULT_ROUTER_CONFIG).mobius
# A long reasoning question the classifier sends to `smart` for the pro tier.
HARD = QUERY.model_copy(
    update={
        "messages": (
            ChatMessage(
                role="user",
                content="Why did our churn rise? Analyze the trade-offs of three pricing strategies, "
                "compare them step by step and justify the plan you recommend.",
            ),
        ),
    }
)


def _pipeline(
    llm: FakeCompleter,
    budgets: MemoryBudgetStore | None = None,
    cache: MemoryResponseCache | None = None,
    policy: MobiusPolicy = POLICY,
) -> RoutePipeline:
    return fake_pipeline(llm, budgets=budgets, cache=cache, policy=policy)


def _reply(out: list[Outgoing]) -> tuple[str, str | None, str | None, bool, int]:
    reply = decode_reply(next(o for o in out if o.topic == "mobius.replies").value)
    return reply.status, reply.error_code, reply.model_group, reply.budget_downgraded, reply.cost_nano_usd


def _alerts(out: list[Outgoing]) -> list[str]:
    return [decode_alert(o.value).kind for o in out if o.topic == TOPICS.alerts]


def _caps(query: QueryEvent) -> list[tuple[str, str, str]]:
    return [
        (c.scope, c.subject, c.window)
        for c in caps_for(POLICY.budgets, query.tier, query.user_id, query.org_id, now_utc())
    ]


async def test_a_request_under_its_caps_is_charged_its_exact_cost() -> None:
    llm, budgets = FakeCompleter(), MemoryBudgetStore()
    out = await _pipeline(llm, budgets).handle(encode_query(HARD))
    status, _, group, downgraded, cost = _reply(out)
    assert (status, group, downgraded) == ("ok", "smart", False)
    assert budgets.settled == [("r-1", cost)] and not budgets.held
    assert all(budgets.spent_nano[key] == cost for key in budgets.spent_nano)
    assert _alerts(out) == []


async def test_near_a_cap_a_request_moves_to_the_cheaper_group_and_alerts_once() -> None:
    llm, budgets = FakeCompleter(), MemoryBudgetStore()
    user_day = next(k for k in _caps(HARD) if k[0] == "user" and len(k[2]) == 10)
    budgets.limits_nano[user_day] = 1000  # smart's estimate (~10 * 100 tokens) would pass 80% of it,
    budgets.spent_nano[user_day] = 750  # and even fast's carries the spend past 800
    first = await _pipeline(llm, budgets).handle(encode_query(HARD))
    second = await _pipeline(llm, budgets).handle(encode_query(HARD.model_copy(update={"request_id": "r-2"})))
    assert _reply(first)[:4] == ("ok", None, "fast", True)
    assert llm.calls[0][0] == "fast"
    record = decode_completion(next(o for o in first if o.topic == TOPICS.completions).value)
    assert record.budget_downgraded
    assert _alerts(first) == ["budget_near_cap"] and _alerts(second) == []


async def test_at_a_cap_the_request_is_refused_without_a_provider_call() -> None:
    llm, budgets = FakeCompleter(), MemoryBudgetStore()
    org_day = next(k for k in _caps(QUERY) if k[0] == "org" and len(k[2]) == 10)
    budgets.limits_nano[org_day] = 10
    out = await _pipeline(llm, budgets).handle(encode_query(QUERY))
    assert _reply(out)[:2] == ("error", "budget_exceeded")
    assert llm.calls == [] and not budgets.held
    assert _alerts(out) == ["budget_exceeded"]


async def test_budgets_unavailable_fail_closed_by_default() -> None:
    llm = FakeCompleter()
    out = await _pipeline(llm, MemoryBudgetStore(unavailable=True)).handle(encode_query(QUERY))
    assert _reply(out)[:2] == ("error", "budget_unavailable") and llm.calls == []


async def test_budgets_unavailable_fail_open_goes_through_unmetered() -> None:
    llm = FakeCompleter()
    budgets = POLICY.budgets.model_copy(update={"when_redis_unavailable": "fail_open"})
    policy = POLICY.model_copy(update={"budgets": budgets})
    store = MemoryBudgetStore(unavailable=True)
    out = await _pipeline(llm, store, policy=policy).handle(encode_query(QUERY))
    assert _reply(out)[0] == "ok" and len(llm.calls) == 1 and store.settled == []


async def test_a_failed_call_releases_its_whole_reservation() -> None:
    llm, budgets = FakeCompleter(fail=LLMError("timeout", "slow")), MemoryBudgetStore()
    await _pipeline(llm, budgets).handle(encode_query(QUERY))
    assert budgets.settled == [("r-1", 0)]
    assert set(budgets.spent_nano.values()) == {0}


async def test_a_cache_hit_is_free_calls_no_provider_and_says_so() -> None:
    llm, cache, budgets = FakeCompleter(), MemoryResponseCache(), MemoryBudgetStore()
    pipeline = _pipeline(llm, budgets, cache)
    first = await pipeline.handle(encode_query(QUERY))
    again = await pipeline.handle(encode_query(QUERY.model_copy(update={"request_id": "r-2"})))
    assert len(llm.calls) == 1
    assert _reply(first)[4] > 0
    reply = decode_reply(next(o for o in again if o.topic == "mobius.replies").value)
    assert (reply.status, reply.cache_hit, reply.cost_nano_usd, reply.content) == (
        "ok",
        True,
        0,
        "answer from fast",
    )
    assert cache.ttls == {next(iter(cache.ttls)): POLICY.tiers["pro"].cache_ttl_s}
    assert [r for r, _ in budgets.settled] == ["r-1"]  # the hit reserved nothing


async def test_errors_are_not_cached() -> None:
    llm, cache = FakeCompleter(fail=LLMError("timeout", "slow")), MemoryResponseCache()
    pipeline = _pipeline(llm, cache=cache)
    await pipeline.handle(encode_query(QUERY))
    await pipeline.handle(encode_query(QUERY.model_copy(update={"request_id": "r-2"})))
    assert len(llm.calls) == 2 and cache.answers == {}


async def test_a_tier_without_cache_ttl_never_uses_the_cache() -> None:
    llm, cache = FakeCompleter(), MemoryResponseCache()
    enterprise = QUERY.model_copy(update={"tier": "enterprise"})
    pipeline = _pipeline(llm, cache=cache)
    await pipeline.handle(encode_query(enterprise))
    await pipeline.handle(encode_query(enterprise.model_copy(update={"request_id": "r-2"})))
    assert len(llm.calls) == 2 and cache.answers == {}
