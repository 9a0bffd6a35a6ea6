"""The shared words of the contracts, each defined once: tiers, query types, alert kinds, error
codes and Kafka header names. The Avro schemas in `schemas/avro/` carry the same values."""

from __future__ import annotations

from typing import Final, Literal, get_args

Tier = Literal["free", "pro", "enterprise"]
TIERS: Final[tuple[Tier, ...]] = get_args(Tier)

QueryType = Literal["simple", "complex", "long_context", "code"]
QUERY_TYPES: Final[tuple[QueryType, ...]] = get_args(QueryType)

# Raised by the router itself (LiteLLM callbacks) and by the pipeline (spend caps).
RouterAlertKind = Literal["fallback_storm", "deployment_cooldown"]
AlertKind = Literal[
    "fallback_storm", "deployment_cooldown", "budget_near_cap", "budget_exceeded", "group_saturated"
]

# Stable error codes an error reply and a completion record carry.
ErrorCode = Literal[
    # the query itself
    "malformed_event",
    "deadline_exceeded",
    "prompt_too_long",
    "context_window_exceeded",
    "unknown_model_group",
    # cost controls
    "budget_exceeded",
    "budget_unavailable",
    # providers, as LiteLLM reports them
    "content_policy",
    "rate_limited",
    "timeout",
    "provider_auth",
    "bad_request",
    "provider_unavailable",
    "provider_error",
    "stream_interrupted",  # a streamed answer broke off after its first piece reached the caller
    # ours
    "internal_error",
]

# Headers of a dead letter on mobius.dlq (pipeline and sink alike).
DLQ_REASON: Final = "mobius.dlq.reason"
DLQ_SOURCE: Final = "mobius.dlq.source"
DLQ_WORKER: Final = "mobius.dlq.worker"
# Set when a dead letter keeps only the head of a record too large to publish whole.
DLQ_ORIGINAL_BYTES: Final = "mobius.dlq.original_bytes"
