"""A group without capacity: its queries are held and answered once it has capacity again (one
alert per episode), or `deadline_exceeded` when their own deadline passes first; a group's provider
calls at once are bounded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.outcomes import LLMError, LLMResult
from routing.router_config import BackpressureSettings, load_router_config
from schemas.events import decode_alert, decode_reply, encode_query, now_utc
from streams.admission import PriorityGate, step_aside
from streams.config import TopicNames
from streams.outgoing import Outgoing
from streams.pipeline.capacity import GroupCapacity
from streams.pipeline.route_pipeline import RoutePipeline
from tests.support.events import QUERY
from tests.support.fakes import FakeCompleter
from tests.support.route_pipelines import fake_pipeline

TOPICS = TopicNames()
FULL = LLMError("rate_limited", "No deployments available", retry_after_s=0.05)


@dataclass
class FullFor(FakeCompleter):
    """Turned away for capacity on the first `full_calls` calls, answering after."""

    full_calls: int = 0
    busy: int = 0
    most_busy: int = 0
    seen: list[str] = field(default_factory=list)

    async def complete(self, request_id: str, group: str, *args: object, **kwargs: object) -> LLMResult:
        self.seen.append(request_id)
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            await asyncio.sleep(0.01)
            if len(self.seen) <= self.full_calls:
                raise FULL
            return await super().complete(request_id, group, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            self.busy -= 1


def _pipeline(llm: FakeCompleter, capacity: GroupCapacity | None = None, **settings: float) -> RoutePipeline:
    policy = load_router_config(DEFAULT_ROUTER_CONFIG).mobius
    policy = policy.model_copy(update={"backpressure": BackpressureSettings(**settings)})
    return fake_pipeline(llm, policy=policy, count_tokens=lambda messages: 10, capacity=capacity)


def _replies(out: list[Outgoing]) -> list[str]:
    return [
        f"{r.status}/{r.error_code}"
        for r in (decode_reply(o.value) for o in out if o.topic == TOPICS.replies)
    ]


def _alerts(out: list[Outgoing]) -> list[str]:
    return [decode_alert(o.value).kind for o in out if o.topic == TOPICS.alerts]


async def test_a_query_is_held_until_its_group_has_capacity_and_alerted_once() -> None:
    llm = FullFor(full_calls=3)
    out = await _pipeline(llm).handle(encode_query(QUERY))
    assert _replies(out) == ["ok/None"] and len(llm.seen) == 4
    assert _alerts(out) == ["group_saturated"]


async def test_an_episode_is_alerted_once_however_many_queries_it_holds() -> None:
    llm = FullFor(full_calls=6)
    pipeline = _pipeline(llm)
    queries = [QUERY.model_copy(update={"request_id": f"r-{i}"}) for i in range(3)]
    outs = await asyncio.gather(*(pipeline.handle(encode_query(q)) for q in queries))
    assert [_replies(o) for o in outs] == [["ok/None"]] * 3
    assert sum(len(_alerts(o)) for o in outs) == 1


async def test_its_own_deadline_ends_the_hold() -> None:
    llm = FullFor(full_calls=10**6)
    query = QUERY.model_copy(update={"deadline": now_utc() + timedelta(seconds=0.3)})
    started = asyncio.get_running_loop().time()
    out = await _pipeline(llm).handle(encode_query(query))
    assert _replies(out) == ["error/deadline_exceeded"]
    assert 0.25 < asyncio.get_running_loop().time() - started < 2.0


async def test_without_a_deadline_the_hold_is_bounded() -> None:
    llm = FullFor(full_calls=10**6)
    out = await _pipeline(llm, max_hold_s=0.3).handle(encode_query(QUERY))
    assert _replies(out) == ["error/rate_limited"]


async def test_other_failures_are_answered_at_once() -> None:
    llm = FakeCompleter(fail=LLMError("provider_unavailable", "down"))
    out = await _pipeline(llm).handle(encode_query(QUERY))
    assert _replies(out) == ["error/provider_unavailable"] and len(llm.calls) == 1


async def test_a_groups_calls_at_once_are_bounded() -> None:
    llm = FullFor()
    pipeline = _pipeline(llm, GroupCapacity(2))
    queries = [QUERY.model_copy(update={"request_id": f"r-{i}"}) for i in range(8)]
    outs = await asyncio.gather(*(pipeline.handle(encode_query(q)) for q in queries))
    assert all(_replies(o) == ["ok/None"] for o in outs)
    assert llm.most_busy == 2


async def test_a_stuck_group_does_not_keep_another_groups_queries_out() -> None:
    """Two admission slots; four queries of a group whose calls hang, bounded to one call at once:
    the three waiting for its call slot step aside, and a query of another group gets through."""
    gate, stuck = PriorityGate(2), asyncio.Event()
    capacity = GroupCapacity(1, step_aside=step_aside)

    async def query(group: str) -> str:
        async with gate.slot("pro"), capacity.calling(group):
            if group == "slow":
                await stuck.wait()
            return group

    slow = [asyncio.create_task(query("slow")) for _ in range(4)]
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(query("fast"), timeout=2) == "fast"
    stuck.set()
    assert await asyncio.wait_for(asyncio.gather(*slow), timeout=2) == ["slow"] * 4
    assert gate.lanes.running == 0
