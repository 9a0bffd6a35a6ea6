"""Everything that happens to one query, from its bytes to the records it produces.

    decode -> reply_to allowed? -> repeat? -> deadline -> classify -> policy -> [cache]
        -> [budget hold] -> LLM (held while its group has no capacity) -> records

`RoutePipeline.handle` never raises for bad input: it returns the records to publish (a reply,
a completion record, a dead letter, alerts). The agent publishes them and only then acknowledges
the query, so a crash at any point means redelivery, never loss; the reply store makes the
redelivery free, the budget store charges it once, and the analytics sink counts it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from routing.backpressure import next_wait_s
from routing.cache_key import cache_key
from routing.classifier import Classification, QueryClassifier
from routing.outcomes import LLMError, LLMResult
from routing.policy import RouteDecision, RouteRejected, decide_route
from routing.router_config import MobiusPolicy
from schemas.events import (
    MalformedEvent,
    QueryEvent,
    decode_query,
    decode_reply,
    encode_completion,
    encode_reply,
    now_utc,
)
from streams.alerts import alert_record
from streams.config import TopicNames
from streams.outgoing import Outgoing
from streams.pipeline.budget_hold import BudgetContext, BudgetHold, hold_budget
from streams.pipeline.capacity import GroupCapacity
from streams.pipeline.ports import (
    BudgetGuard,
    ChunkSink,
    Completer,
    PipelineMetrics,
    ProviderCall,
    ReplyStore,
    ResponseCache,
    TextSink,
    TokenCounter,
)
from streams.pipeline.records import build_completion, build_reply, dead_letter
from streams.pipeline.streaming import CHUNK_INTERVAL_S, ChunkWriter
from streams.reply_topics import ReplyTopics
from streams.tracing import NO_TRACE, TraceStamp, describe_completion

logger = logging.getLogger("mobius.pipeline")


class RoutePipeline:
    """Routes one query at a time through its ports; see the module docstring for the flow."""

    def __init__(
        self,
        *,
        completer: Completer,
        classifier: QueryClassifier,
        policy: MobiusPolicy,
        count_tokens: TokenCounter,
        topics: TopicNames,
        worker_id: str,
        replies: ReplyStore | None = None,
        budgets: BudgetGuard | None = None,
        cache: ResponseCache | None = None,
        reply_topics: ReplyTopics | None = None,
        capacity: GroupCapacity | None = None,
        metrics: PipelineMetrics | None = None,
        chunk_interval_s: float = CHUNK_INTERVAL_S,
    ) -> None:
        self.completer = completer
        self.classifier = classifier
        self.policy = policy
        self.count_tokens = count_tokens
        self.topics = topics
        self.worker_id = worker_id
        self.replies = replies
        self.budgets = budgets
        self.cache = cache
        self.reply_topics = reply_topics or ReplyTopics.under(topics.replies)
        self.capacity = capacity or GroupCapacity(None)
        self.metrics = metrics
        self.chunk_interval_s = chunk_interval_s
        self._budget_context = (
            BudgetContext(budgets, policy, completer, topics.alerts, worker_id) if budgets else None
        )

    async def handle(
        self,
        raw: bytes,
        source: str = "",
        trace: TraceStamp = NO_TRACE,
        chunks: ChunkSink | None = None,
    ) -> list[Outgoing]:
        """The records to publish once the query is answered; each carries `trace` (its id in the
        body, its propagation headers in the record's headers). A query asking for a stream sends
        its answer's pieces to `chunks` meanwhile (without a sink it is answered whole)."""
        received_at = now_utc()
        try:
            query = decode_query(raw)
        except MalformedEvent as exc:
            return self._dead_letter(raw, exc.reason, source, exc.request_id, exc.reply_to, trace=trace)
        if not self.reply_topics.allows(query.reply_to):
            # Never published to: no reply, only the dead letter saying why.
            refusal = self.reply_topics.refusal(query.reply_to)
            return self._dead_letter(raw, refusal, source, query.request_id, None, trace=trace)
        writer = None
        if query.stream and chunks is not None:
            writer = ChunkWriter(query, chunks, self.chunk_interval_s)
        if self.replies is not None and (sent := await self.replies.get(query.request_id)) is not None:
            logger.info("request %s was answered before; re-sending its reply", query.request_id)
            if writer is not None:  # streamed again, so a caller that lost the first stream has one
                await writer.replay(decode_reply(sent[0]).content)
            key, headers = query.request_id.encode(), trace.headers
            return [
                Outgoing(query.reply_to, key, sent[0], headers),
                Outgoing(self.topics.completions, key, sent[1], headers),
            ]
        if query.deadline is not None and query.deadline <= received_at:
            late = LLMError("deadline_exceeded", "the query's deadline passed before it was routed")
            return await self._answer(query, received_at, None, None, late, trace=trace)
        return await self._route(query, raw, source, received_at, trace=trace, writer=writer)

    def internal_error(
        self, raw: bytes, source: str, exc: Exception, trace: TraceStamp = NO_TRACE
    ) -> list[Outgoing]:
        """An unexpected failure: dead-letter the query (and answer it, if its envelope is readable)."""
        reason = f"internal error: {type(exc).__name__}: {exc}"
        try:
            query = decode_query(raw)
        except MalformedEvent:
            return self._dead_letter(raw, reason, source, None, None, trace=trace)
        return self._dead_letter(raw, reason, source, query.request_id, query.reply_to, trace=trace)

    async def _route(
        self,
        query: QueryEvent,
        raw: bytes,
        source: str,
        received_at: datetime,
        *,
        trace: TraceStamp,
        writer: ChunkWriter | None,
    ) -> list[Outgoing]:
        messages = [m.model_dump() for m in query.messages]
        classification = self._classify(query, messages)
        hints = query.hints
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
                reason = f"{exc.code}: {exc.message}"
                out = self._dead_letter(raw, reason, source, query.request_id, None, trace=trace)
            rejected = LLMError(exc.code, exc.message)
            return out + await self._answer(query, received_at, classification, None, rejected, trace=trace)
        on_text = writer.text if writer is not None else None
        try:
            call = await self._call_through_cache(query, decision, messages, received_at, on_text)
        finally:
            if writer is not None:  # the pieces still held go out before the final reply
                await writer.flush()
        if isinstance(call, LLMResult):  # a cache hit: streamed too, from the cached text
            if writer is not None:
                await writer.replay(call.content)
            return await self._answer(query, received_at, classification, decision, call, trace=trace)
        outcome, decided = call.outcome, call.decision
        answer = await self._answer(query, received_at, classification, decided, outcome, trace=trace)
        return answer + list(call.alerts)

    def _classify(self, query: QueryEvent, messages: list[dict[str, str]]) -> Classification:
        return self.classifier.classify(
            [(m.role, m.content) for m in query.messages],
            self.count_tokens(messages),
            query.hints.query_type if query.hints else None,
        )

    async def _call_through_cache(
        self,
        query: QueryEvent,
        decision: RouteDecision,
        messages: list[dict[str, str]],
        now: datetime,
        on_text: TextSink | None = None,
    ) -> ProviderCall | LLMResult:
        async def compute() -> ProviderCall:
            return await self._call(query, decision, messages, now, on_text)

        ttl = self.policy.tiers[query.tier].cache_ttl_s
        if self.cache is None or not ttl:
            return await compute()
        key = cache_key(messages, decision.group, decision.max_tokens)
        return await self.cache.single_flight(key, ttl, compute)

    async def _call(
        self,
        query: QueryEvent,
        decision: RouteDecision,
        messages: list[dict[str, str]],
        now: datetime,
        on_text: TextSink | None = None,
    ) -> ProviderCall:
        """The provider call, inside a budget reservation when caps apply."""
        hold = BudgetHold(decision)
        if self._budget_context is not None:
            hold = await hold_budget(self._budget_context, query, decision, now)
        if hold.refusal is not None:
            return ProviderCall(hold.refusal, hold.decision, hold.alerts)
        decision, reservation = hold.decision, hold.reservation
        holding = (
            self.budgets.holding(reservation)
            if reservation is not None and self.budgets is not None
            else contextlib.nullcontext()
        )
        async with holding:
            outcome, alerts = await self._complete_holding(query, decision, messages, now, on_text)
        if reservation is not None and self.budgets is not None:
            spent = outcome.cost_nano_usd if isinstance(outcome, LLMResult) else 0
            await self.budgets.settle(reservation, spent)
        return ProviderCall(outcome, decision, (*hold.alerts, *alerts))

    async def _complete_holding(
        self,
        query: QueryEvent,
        decision: RouteDecision,
        messages: list[dict[str, str]],
        received_at: datetime,
        on_text: TextSink | None = None,
    ) -> tuple[LLMResult | LLMError, tuple[Outgoing, ...]]:
        """The call, held and tried again while its group has no capacity (routing/backpressure.py)
        until capacity returns or the query's deadline passes; alerts raised on the way."""
        alerts: list[Outgoing] = []
        group = decision.group
        late = LLMError("deadline_exceeded", "the query's deadline passed while its group had no capacity")
        while True:
            async with self.capacity.calling(group, query.tier):
                outcome = await self._complete(query.request_id, decision, messages, on_text)
            if isinstance(outcome, LLMResult):
                self.capacity.answered(group)
                return outcome, tuple(alerts)
            now = now_utc()
            left = (query.deadline - now).total_seconds() if query.deadline is not None else None
            wait = next_wait_s(outcome, (now - received_at).total_seconds(), left, self.policy.backpressure)
            if wait is None:
                return outcome, tuple(alerts)
            if self.capacity.held(group):
                alerts.append(self._saturated_alert(group, outcome))
            async with self.capacity.aside():  # other queries may use the worker's slot meanwhile
                await asyncio.sleep(wait)
            if query.deadline is not None and now_utc() >= query.deadline:
                return late, tuple(alerts)

    def _saturated_alert(self, group: str, error: LLMError) -> Outgoing:
        return alert_record(
            self.topics.alerts,
            "group_saturated",
            group,
            f"every deployment of {group} is rate-limited or cooling down: queries are held, not failed",
            self.worker_id,
            retry_after_s=f"{error.retry_after_s:g}",
            error=error.message[:200],
        )

    async def _complete(
        self,
        request_id: str,
        decision: RouteDecision,
        messages: list[dict[str, str]],
        on_text: TextSink | None = None,
    ) -> LLMResult | LLMError:
        try:
            return await self.completer.complete(
                request_id,
                decision.group,
                messages,
                decision.max_tokens,
                decision.prompt_tokens,
                on_text=on_text,
            )
        except LLMError as exc:
            return exc

    async def _answer(
        self,
        query: QueryEvent,
        received_at: datetime,
        classification: Classification | None,
        decision: RouteDecision | None,
        outcome: LLMResult | LLMError,
        *,
        trace: TraceStamp,
    ) -> list[Outgoing]:
        """The reply and the completion record, remembered so a redelivery re-sends them."""
        reply = build_reply(query, decision, outcome, received_at, now_utc(), trace_id=trace.trace_id)
        record = build_completion(query, reply, classification, outcome, self.worker_id)
        reply_bytes, record_bytes = encode_reply(reply), encode_completion(record)
        describe_completion(record)
        if self.metrics is not None:
            self.metrics.completed(record)
        if self.replies is not None:
            await self.replies.put(query.request_id, reply_bytes, record_bytes)
        key = query.request_id.encode()
        return [
            Outgoing(query.reply_to, key, reply_bytes, trace.headers),
            Outgoing(self.topics.completions, key, record_bytes, trace.headers),
        ]

    def _dead_letter(
        self,
        raw: bytes,
        reason: str,
        source: str,
        request_id: str | None,
        reply_to: str | None,
        *,
        trace: TraceStamp,
    ) -> list[Outgoing]:
        """The dead letter, and an error reply when its reply topic is readable and allowed."""
        if reply_to is not None and not self.reply_topics.allows(reply_to):
            reply_to = None
        logger.warning("dead letter (%s): %s", (request_id or "no request id")[:200], reason[:1000])
        if self.metrics is not None:
            self.metrics.dead_lettered()
        return dead_letter(
            self.topics.dlq,
            raw=raw,
            reason=reason,
            source=source,
            worker_id=self.worker_id,
            request_id=request_id,
            reply_to=reply_to,
            trace=trace,
        )
