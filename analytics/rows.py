"""CompletionRecord -> a `completions` row, column for column (pure)."""

from __future__ import annotations

from typing import Any

from schemas.events import CompletionRecord

COLUMNS = (
    "request_id", "user_id", "org_id", "tier", "query_type", "complexity", "model_group", "model",
    "provider", "status", "error_code", "prompt_tokens", "completion_tokens", "total_tokens",
    "cost_nano_usd", "total_latency_ms", "provider_latency_ms", "queue_wait_ms", "attempted_models",
    "fallback_count", "cache_hit", "budget_downgraded", "worker_id", "created_at", "completed_at",
    "route_cause", "p_simple", "p_complex", "p_code", "p_long_context", "trace_id",
)  # fmt: skip


def completion_row(record: CompletionRecord) -> list[Any]:
    return [
        record.request_id,
        record.user_id,
        record.org_id or "",
        record.tier,
        record.query_type,
        record.complexity,
        record.model_group,
        record.model or "",
        record.provider or "",
        record.status,
        record.error_code or "",
        record.prompt_tokens,
        record.completion_tokens,
        record.total_tokens,
        record.cost_nano_usd,
        record.total_latency_ms,
        record.provider_latency_ms,
        record.queue_wait_ms,
        list(record.attempted_models),
        record.fallback_count,
        record.cache_hit,
        record.budget_downgraded,
        record.worker_id,
        record.created_at,
        record.completed_at,
        record.route_cause,
        record.p_simple,
        record.p_complex,
        record.p_code,
        record.p_long_context,
        record.trace_id,
    ]
