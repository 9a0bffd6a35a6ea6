"""CompletionRecord -> a `completions` row, column for column (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.events import CompletionRecord

COLUMNS = (
    "request_id", "user_id", "org_id", "tier", "query_type", "complexity", "model_group", "model",
    "provider", "status", "error_code", "prompt_tokens", "completion_tokens", "total_tokens",
    "cost_nano_usd", "total_latency_ms", "provider_latency_ms", "queue_wait_ms", "attempted_models",
    "fallback_count", "cache_hit", "budget_downgraded", "worker_id", "created_at", "completed_at",
    "route_cause", "p_simple", "p_complex", "p_code", "p_long_context", "trace_id",
)  # fmt: skip


# What the unsigned columns hold (upper bound exclusive), and the DateTime range the TTL and the
# rollup's minute need; migration 011 refuses the same on the Avro path.
UNSIGNED_LIMITS = {
    "prompt_tokens": 2**32, "completion_tokens": 2**32, "total_tokens": 2**32, "cost_nano_usd": 2**64,
    "total_latency_ms": 2**32, "provider_latency_ms": 2**32, "queue_wait_ms": 2**32, "fallback_count": 2**32,
}  # fmt: skip
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC)  # exclusive: DateTime's last second + 1


class OutOfRange(ValueError):
    """A record's value its `completions` column cannot hold; the message names the field."""


def completion_row(record: CompletionRecord) -> list[Any]:
    """The row; OutOfRange for a value ClickHouse would wrap or clamp instead of refusing."""
    for name, limit in UNSIGNED_LIMITS.items():
        value = getattr(record, name)
        if not 0 <= value < limit:
            raise OutOfRange(f"{name} = {value} is outside the column's range 0..{limit - 1}")
    for name in ("created_at", "completed_at"):
        moment = getattr(record, name)
        if not EARLIEST <= moment < LATEST:
            raise OutOfRange(f"{name} = {moment.isoformat()} is outside {EARLIEST.year}..{LATEST.year}")
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
