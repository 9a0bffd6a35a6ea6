"""Everything that happens to one query, from its bytes to the records it produces.

`RoutePipeline.handle` never raises for bad input: it returns the records to publish (a reply,
a completion record, a dead letter). The agent publishes them and only then acknowledges the
query, so a crash at any point means redelivery, never loss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from routing.budgets import Cap, CapExceeded, Reservation, caps_for
from routing.cache_key import cache_key
from routing.classifier import Classification, classify
from routing.outcomes import LLMError, LLMResult
from routing.policy import RouteDecision, RouteRejected, decide_route
from routing.router_config import MobiusPolicy
from schemas.events import (
    CompletionRecord,
    MalformedEvent,
    QueryEvent,
    ReplyEvent,
    Usage,
    decode_query,
    encode_completion,
    encode_reply,
    now_utc,
)
from streams.alerts import AlertKind, alert_record
from streams.budget_store import BudgetUnavailable
from streams.pipeline_types import Outgoing
from streams.response_cache import CachedAnswer, RedisResponseCache
from streams.settings import TopicNames

logger = logging.getLogger("mobius.pipeline")
NEAR_CAP = ", near a budget cap"


class Completer(Protocol):
    group_windows: dict[str, int]

    async def complete(
        self,
        request_id: str,
        group: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        prompt_tokens: int | None = None,
    ) -> LLMResult: ...

    def estimate_nano(self, group: str, prompt_tokens: int, max_tokens: int) -> int: ...


class BudgetGuard(Protocol):
    """Spend caps (streams/budget_store.py): reserve before the call, settle after."""

    async def reserve(
        self, caps: Sequence[Cap], primary_nano: int, cheaper_nano: int
    ) -> Reservation | CapExceeded: ...

    async def settle(self, reservation: Reservation, actual_nano: int) -> None: ...

    async def first_alert(self, cap: Cap, level: str) -> bool: ...


class ReplyStore(Protocol):
    """What a query produced, by request id: a redelivered query is answered again, not re-billed.

    Both the reply and the completion record are kept and re-sent, so a crash between the provider
    call and the publish loses neither; the analytics sink deduplicates on request_id.
    """

    async def get(self, request_id: str) -> tuple[bytes, bytes] | None: ...

    async def put(self, request_id: str, reply: bytes, completion: bytes) -> None: ...


TokenCounter = Callable[[list[dict[str, str]]], int]


def _ms(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() * 1000))


class RoutePipeline:
    def __init__(
        self,
        *,
        completer: Completer,
        policy: MobiusPolicy,
        count_tokens: TokenCounter,
        topics: TopicNames,
        worker_id: str,
        replies: ReplyStore | None = None,
        budgets: BudgetGuard | None = None,
        cache: RedisResponseCache | None = None,
    ) -> None:
        self.completer = completer
        self.policy = policy
        self.count_tokens = count_tokens
        self.topics = topics
        self.worker_id = worker_id
        self.replies = replies
        self.budgets = budgets
        self.cache = cache

    async def handle(self, raw: bytes, source: str = "") -> list[Outgoing]:
        received_at = now_utc()
        try:
            query = decode_query(raw)
        except MalformedEvent as exc:
            return self._dead_letter(raw, exc.reason, source, exc.request_id, exc.reply_to)
        if self.replies is not None and (sent := await self.replies.get(query.request_id)) is not None:
            logger.info("request %s was answered before; re-sending its reply", query.request_id)
            key = query.request_id.encode()
            return [Outgoing(query.reply_to, key, sent[0]), Outgoing(self.topics.completions, key, sent[1])]
        if query.deadline is not None and query.deadline <= received_at:
            late = LLMError("deadline_exceeded", "the query's deadline passed before it was routed")
            return await self._finish(query, received_at, None, None, late)
        return await self._route(query, raw, source, received_at)

    async def _route(
        self, query: QueryEvent, raw: bytes, source: str, received_at: datetime
    ) -> list[Outgoing]:
        messages = [m.model_dump() for m in query.messages]
        hints = query.hints
        classification = classify(
            [m.content for m in query.messages],
            self.count_tokens(messages),
            self.policy.classifier.long_context_tokens,
            self.policy.classifier.complex_threshold,
            hints.query_type if hints else None,
        )
        try:
            decision = decide_route(
                classification,
                query.tier,
                self.policy,
                self.completer.group_windows,
                max_tokens_hint=hints.max_tokens if hints else None,
                group_override=hints.model_group if hints else None,
            )
        except RouteRejected as exc:
            out: list[Outgoing] = []
            if exc.dead_letter:
                out = self._dead_letter(raw, f"{exc.code}: {exc.message}", source, query.request_id, None)
            rejected = LLMError(exc.code, exc.message)
            return out + await self._finish(query, received_at, classification, None, rejected)
        alerts: list[Outgoing] = []
        ttl = self.policy.tiers[query.tier].cache_ttl_s
        if self.cache is None or not ttl:
            outcome, decision = await self._call(query, decision, messages, received_at, alerts)
            return await self._finish(query, received_at, classification, decision, outcome) + alerts
        key = cache_key(messages, decision.group, decision.max_tokens)
        hit = await self.cache.get(key)
        if hit is None and not await self.cache.claim(key):
            hit = await self.cache.wait_for(key)  # an identical query is with a provider now
        if hit is not None:
            return await self._finish(query, received_at, classification, decision, hit.as_result())
        outcome = LLMError("internal_error", "not routed")
        try:
            async with self.cache.renewing(key):
                outcome, decision = await self._call(query, decision, messages, received_at, alerts)
        finally:
            if isinstance(outcome, LLMResult):
                await self.cache.put(key, CachedAnswer.of(outcome), ttl)
            else:
                await self.cache.release(key)
        return await self._finish(query, received_at, classification, decision, outcome) + alerts

    async def _call(
        self,
        query: QueryEvent,
        decision: RouteDecision,
        messages: list[dict[str, str]],
        now: datetime,
        alerts: list[Outgoing],
    ) -> tuple[LLMResult | LLMError, RouteDecision]:
        """The provider call, inside a budget reservation when caps apply."""
        held = await self._hold_budget(query, decision, now, alerts)
        if isinstance(held, LLMError):
            return held, decision
        reservation, decision = held
        try:
            outcome: LLMResult | LLMError = await self.completer.complete(
                query.request_id, decision.group, messages, decision.max_tokens, decision.prompt_tokens
            )
        except LLMError as exc:
            outcome = exc
        if reservation is not None and self.budgets is not None:
            spent = outcome.cost_nano_usd if isinstance(outcome, LLMResult) else 0
            await self.budgets.settle(reservation, spent)
        return outcome, decision

    async def _hold_budget(
        self, query: QueryEvent, decision: RouteDecision, now: datetime, alerts: list[Outgoing]
    ) -> tuple[Reservation | None, RouteDecision] | LLMError:
        """Reserve the call's estimated cost against every cap; near a cap, use the cheaper group."""
        settings = self.policy.budgets
        caps = caps_for(settings, query.tier, query.user_id, query.org_id, now) if self.budgets else []
        if self.budgets is None or not caps:
            return None, decision
        cheaper = settings.cheaper_group.get(decision.group, decision.group)
        if cheaper not in self.policy.tiers[query.tier].allowed_groups or (
            decision.prompt_tokens + decision.max_tokens > self.completer.group_windows.get(cheaper, 0)
        ):
            cheaper = decision.group
        estimate = self.completer.estimate_nano
        try:
            held = await self.budgets.reserve(
                caps,
                estimate(decision.group, decision.prompt_tokens, decision.max_tokens),
                estimate(cheaper, decision.prompt_tokens, decision.max_tokens),
            )
        except BudgetUnavailable as exc:
            if settings.when_redis_unavailable == "fail_open":
                logger.warning("budgets unavailable, %s goes through unmetered: %s", query.request_id, exc)
                return None, decision
            return LLMError(
                "budget_unavailable", "spend limits cannot be checked right now; try again shortly"
            )
        if isinstance(held, CapExceeded):
            if await self.budgets.first_alert(held.cap, "100"):
                alerts.append(self._budget_alert("budget_exceeded", held.cap, held.message()))
            return LLMError("budget_exceeded", held.message())
        for cap in held.crossed(settings.near_cap_share):
            if await self.budgets.first_alert(cap, "near"):
                share = f"{settings.near_cap_share:.0%}"
                alerts.append(
                    self._budget_alert("budget_near_cap", cap, f"passed {share} of its {cap.period} cap")
                )
        if held.downgraded and cheaper != decision.group:
            decision = replace(decision, group=cheaper, reason=decision.reason + NEAR_CAP)
        return held, decision

    def _budget_alert(self, kind: AlertKind, cap: Cap, message: str) -> Outgoing:
        subject = f"{cap.scope}:{cap.subject}"
        return alert_record(
            self.topics.alerts,
            kind,
            subject,
            f"{subject} {message}",
            self.worker_id,
            period=cap.period,
            resets_at=cap.resets_at.isoformat(),
        )

    async def _finish(
        self,
        query: QueryEvent,
        received_at: datetime,
        classification: Classification | None,
        decision: RouteDecision | None,
        outcome: LLMResult | LLMError,
    ) -> list[Outgoing]:
        answered_at = now_utc()
        ok = isinstance(outcome, LLMResult)
        result = outcome if isinstance(outcome, LLMResult) else None
        error = outcome if isinstance(outcome, LLMError) else None
        usage = Usage(
            prompt_tokens=result.prompt_tokens if result else 0,
            completion_tokens=result.completion_tokens if result else 0,
            total_tokens=(result.prompt_tokens + result.completion_tokens) if result else 0,
        )
        group = result.group if result else (decision.group if decision else "none")
        reply = ReplyEvent(
            request_id=query.request_id,
            status="ok" if ok else "error",
            content=result.content if result else None,
            model_group=group if decision else None,
            model=result.model if result else None,
            usage=usage if result else None,
            cost_nano_usd=result.cost_nano_usd if result else 0,
            total_latency_ms=_ms(query.created_at, answered_at),
            provider_latency_ms=result.provider_latency_ms if result else 0,
            queue_wait_ms=_ms(query.created_at, received_at),
            fallbacks=result.fallbacks if result else 0,
            cache_hit=result.cache_hit if result else False,
            budget_downgraded=decision is not None and decision.reason.endswith(NEAR_CAP),
            error_code=error.code if error else None,
            error_message=error.message if error else None,
            answered_at=answered_at,
        )
        record = CompletionRecord(
            request_id=query.request_id,
            user_id=query.user_id,
            org_id=query.org_id,
            tier=query.tier,
            query_type=classification.query_type if classification else "unknown",
            complexity=classification.complexity if classification else 0.0,
            model_group=group,
            model=result.model if result else None,
            provider=result.provider if result else None,
            status="ok" if ok else "error",
            error_code=error.code if error else None,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            cost_nano_usd=reply.cost_nano_usd,
            total_latency_ms=reply.total_latency_ms,
            provider_latency_ms=reply.provider_latency_ms,
            queue_wait_ms=reply.queue_wait_ms,
            attempted_models=result.attempted_models if result else (error.attempted_models if error else ()),
            fallback_count=reply.fallbacks,
            cache_hit=reply.cache_hit,
            budget_downgraded=reply.budget_downgraded,
            worker_id=self.worker_id,
            created_at=query.created_at,
            completed_at=answered_at,
        )
        key = query.request_id.encode()
        reply_bytes, record_bytes = encode_reply(reply), encode_completion(record)
        if self.replies is not None:
            await self.replies.put(query.request_id, reply_bytes, record_bytes)
        return [
            Outgoing(query.reply_to, key, reply_bytes),
            Outgoing(self.topics.completions, key, record_bytes),
        ]

    def internal_error(self, raw: bytes, source: str, exc: Exception) -> list[Outgoing]:
        """An unexpected failure: dead-letter the query (and answer it, if its envelope is readable)."""
        reason = f"internal error: {type(exc).__name__}: {exc}"
        try:
            query = decode_query(raw)
        except MalformedEvent:
            return self._dead_letter(raw, reason, source, None, None)
        return self._dead_letter(raw, reason, source, query.request_id, query.reply_to)

    def _dead_letter(
        self, raw: bytes, reason: str, source: str, request_id: str | None, reply_to: str | None
    ) -> list[Outgoing]:
        logger.warning("dead letter (%s): %s", request_id or "no request id", reason)
        headers = (
            ("mobius.dlq.reason", reason.encode()),
            ("mobius.dlq.source", source.encode()),
            ("mobius.dlq.worker", self.worker_id.encode()),
        )
        out = [Outgoing(self.topics.dlq, (request_id or "").encode(), raw, headers)]
        if reply_to is not None and request_id is not None:
            reply = ReplyEvent(
                request_id=request_id,
                status="error",
                error_code="malformed_event",
                error_message=reason,
                answered_at=now_utc(),
            )
            out.append(Outgoing(reply_to, request_id.encode(), encode_reply(reply)))
        return out
