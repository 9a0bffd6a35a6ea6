"""When to hold a query whose group has no capacity, and for how long (pure).

A call fails for capacity when every deployment it could reach answered 429 or was cooling down
(`LLMError.retry_after_s` is set). Answering such queries with errors turns a backlog into an
error storm; holding them lets Kafka keep the backlog and the answers come once capacity is back.
A query is held until its own deadline; one without a deadline at most `max_hold_s`.
"""

from __future__ import annotations

from routing.outcomes import LLMError
from routing.router_config import BackpressureSettings

MIN_WAIT_S = 0.05  # a zero retry-after must not become a busy loop


def next_wait_s(
    error: LLMError, held_s: float, deadline_left_s: float | None, settings: BackpressureSettings
) -> float | None:
    """Seconds to wait before calling again; None when the query is to be answered now."""
    if error.retry_after_s is None:
        return None  # not a capacity failure: waiting would not help
    room = settings.max_hold_s - held_s if deadline_left_s is None else deadline_left_s
    if room <= 0:
        return None
    return min(max(error.retry_after_s, MIN_WAIT_S), settings.max_wait_s, room)


def group_slots(max_in_flight: int, settings: BackpressureSettings) -> int | None:
    """Provider calls one group may have at once in a worker (at least one); None: no bound."""
    if settings.group_share >= 1:
        return None
    return max(1, int(max_in_flight * settings.group_share))
