"""Pure builders of what the pipeline publishes: the reply, the completion record, a dead letter."""

from __future__ import annotations

from datetime import datetime

from routing.classifier import Classification
from routing.outcomes import LLMError, LLMResult
from routing.policy import RouteDecision
from schemas.events import CompletionRecord, QueryEvent, ReplyEvent, Usage, encode_reply, now_utc
from schemas.vocabulary import DLQ_REASON, DLQ_SOURCE, DLQ_WORKER
from streams.outgoing import Outgoing
from streams.tracing import NO_TRACE, TraceStamp


def _ms(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() * 1000))


def build_reply(
    query: QueryEvent,
    decision: RouteDecision | None,
    outcome: LLMResult | LLMError,
    received_at: datetime,
    answered_at: datetime,
    *,
    trace_id: str = "",
) -> ReplyEvent:
    """The caller's answer (or error) with its route, usage, cost and latencies."""
    total_ms, queue_ms = _ms(query.created_at, answered_at), _ms(query.created_at, received_at)
    downgraded = decision is not None and decision.budget_downgraded
    if isinstance(outcome, LLMError):
        return ReplyEvent(
            request_id=query.request_id,
            status="error",
            model_group=decision.group if decision else None,
            error_code=outcome.code,
            error_message=outcome.message,
            total_latency_ms=total_ms,
            queue_wait_ms=queue_ms,
            budget_downgraded=downgraded,
            answered_at=answered_at,
            trace_id=trace_id,
        )
    return ReplyEvent(
        request_id=query.request_id,
        status="ok",
        content=outcome.content,
        model_group=outcome.group,
        model=outcome.model,
        usage=Usage(
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            total_tokens=outcome.prompt_tokens + outcome.completion_tokens,
        ),
        cost_nano_usd=outcome.cost_nano_usd,
        provider_latency_ms=outcome.provider_latency_ms,
        fallbacks=outcome.fallbacks,
        cache_hit=outcome.cache_hit,
        total_latency_ms=total_ms,
        queue_wait_ms=queue_ms,
        budget_downgraded=downgraded,
        answered_at=answered_at,
        trace_id=trace_id,
    )


def build_completion(
    query: QueryEvent,
    reply: ReplyEvent,
    classification: Classification | None,
    outcome: LLMResult | LLMError,
    worker_id: str,
) -> CompletionRecord:
    """The analytics record of one routed request, consistent with its reply."""
    result = outcome if isinstance(outcome, LLMResult) else None
    usage = reply.usage or Usage()
    return CompletionRecord(
        request_id=query.request_id,
        user_id=query.user_id,
        org_id=query.org_id,
        tier=query.tier,
        query_type=classification.query_type if classification else "unknown",
        complexity=classification.complexity if classification else 0.0,
        model_group=reply.model_group or "none",
        model=reply.model,
        provider=result.provider if result else None,
        status=reply.status,
        error_code=reply.error_code,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        cost_nano_usd=reply.cost_nano_usd,
        total_latency_ms=reply.total_latency_ms,
        provider_latency_ms=reply.provider_latency_ms,
        queue_wait_ms=reply.queue_wait_ms,
        attempted_models=outcome.attempted_models,
        fallback_count=reply.fallbacks,
        cache_hit=reply.cache_hit,
        budget_downgraded=reply.budget_downgraded,
        worker_id=worker_id,
        created_at=query.created_at,
        completed_at=reply.answered_at,
        route_cause=classification.cause if classification else "",
        p_simple=classification.probability("simple") if classification else 0.0,
        p_complex=classification.probability("complex") if classification else 0.0,
        p_code=classification.probability("code") if classification else 0.0,
        p_long_context=classification.probability("long_context") if classification else 0.0,
        trace_id=reply.trace_id,
    )


def dead_letter(
    dlq_topic: str,
    *,
    raw: bytes,
    reason: str,
    source: str,
    worker_id: str,
    request_id: str | None,
    reply_to: str | None,
    trace: TraceStamp = NO_TRACE,
) -> list[Outgoing]:
    """The raw bytes to the DLQ with the reason, and an error reply when the caller is known."""
    headers = (
        (DLQ_REASON, reason.encode()),
        (DLQ_SOURCE, source.encode()),
        (DLQ_WORKER, worker_id.encode()),
        *trace.headers,
    )
    out = [Outgoing(dlq_topic, (request_id or "").encode(), raw, headers)]
    if reply_to is not None and request_id is not None:
        reply = ReplyEvent(
            request_id=request_id,
            status="error",
            error_code="malformed_event",
            error_message=reason,
            answered_at=now_utc(),
            trace_id=trace.trace_id,
        )
        out.append(Outgoing(reply_to, request_id.encode(), encode_reply(reply), trace.headers))
    return out
