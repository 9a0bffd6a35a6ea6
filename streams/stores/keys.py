"""Every Redis key the pipeline and the tools use, in one place (LiteLLM's own rpm/tpm and
cooldown keys are LiteLLM's). All begin with `mobius:`, so an operator can tell them apart."""

from __future__ import annotations

from typing import Final

from routing.budgets import Cap, Scope

# Spend caps: one counter per cap and window, one hash of overrides per user or org.
RESERVATIONS: Final = "mobius:reservations"  # sorted set: request_id scored by its lease's end (ms)


def spend_counter(cap: Cap) -> str:
    return f"mobius:spend:{cap.scope}:{cap.subject}:{cap.window}"


def spend_counters_of(scope: Scope, subject: str) -> str:
    """A SCAN pattern for every window's counter of one user or org."""
    return f"mobius:spend:{scope}:{subject}:*"


def spend_limits(scope: Scope, subject: str) -> str:
    return f"mobius:budget:{scope}:{subject}"


def limit_field(cap: Cap) -> str:
    return f"{cap.period}_nano"


def cap_alerted(cap: Cap, level: str) -> str:
    return f"{spend_counter(cap)}:alerted:{level}"


def reservation(request_id: str) -> str:
    """What one request holds against its caps until it is settled (or its lease lapses)."""
    return f"mobius:reservation:{request_id}"


# Response cache: the answer, and the lease of the one caller computing it.
def cached_answer(key: str) -> str:
    return f"mobius:cache:{key}"


def cache_lease(key: str) -> str:
    return f"mobius:cache:lease:{key}"


CACHE_PATTERN: Final = "mobius:cache:*"


# Reply store: what a request produced, re-sent when it is delivered again.
def answered(request_id: str) -> str:
    return f"mobius:answered:{request_id}"


SELFCHECK_PREFIX: Final = "mobius:selfcheck:"
