"""When a query whose group has no capacity is held, and for how long."""

from __future__ import annotations

import pytest

from routing.backpressure import MIN_WAIT_S, group_slots, next_wait_s
from routing.outcomes import LLMError
from routing.router_config import BackpressureSettings

SETTINGS = BackpressureSettings(max_hold_s=30, max_wait_s=5)
FULL = LLMError("rate_limited", "no deployments available", retry_after_s=2.0)


@pytest.mark.parametrize(
    ("error", "held_s", "deadline_left_s", "wait"),
    [
        (FULL, 0.0, None, 2.0),  # retry-after as said
        (LLMError("rate_limited", "x", retry_after_s=60.0), 0.0, None, 5.0),  # never longer than max_wait_s
        (LLMError("rate_limited", "x", retry_after_s=0.0), 0.0, None, MIN_WAIT_S),  # no busy loop
        (FULL, 29.0, None, 1.0),  # what is left of max_hold_s
        (FULL, 30.0, None, None),  # held long enough: answer with the error
        (FULL, 100.0, 1.5, 1.5),  # a deadline of its own: held until it, past max_hold_s
        (FULL, 0.0, 0.0, None),  # its deadline has passed
        (LLMError("provider_unavailable", "down"), 0.0, None, None),  # not capacity: no wait helps
    ],
)
def test_next_wait(error: LLMError, held_s: float, deadline_left_s: float | None, wait: float | None) -> None:
    assert next_wait_s(error, held_s, deadline_left_s, SETTINGS) == wait


def test_a_group_gets_its_share_of_the_slots_and_at_least_one() -> None:
    assert group_slots(512, BackpressureSettings(group_share=0.5)) == 256
    assert group_slots(1, BackpressureSettings(group_share=0.5)) == 1
    assert group_slots(512, BackpressureSettings()) == 384  # the default: three quarters
    assert group_slots(512, BackpressureSettings(group_share=1)) is None  # no bound
