"""Lane scheduling: enterprise first, pro next, free never starved, no credit saved while idle."""

from __future__ import annotations

from collections import Counter

import pytest

from schemas.vocabulary import TIERS, Tier
from streams.lanes import LANE_ORDER, LaneScheduler


def _backlogged_grants(scheduler: LaneScheduler[str], lanes: tuple[Tier, ...], grants: int) -> Counter[str]:
    """Keep every lane in `lanes` backlogged; which lanes the next `grants` slots went to."""
    for lane in lanes:
        for _ in range(3):
            scheduler.arrive(lane, lane)
    counts: Counter[str] = Counter()
    for _ in range(grants):
        (admitted,) = scheduler.finish()
        counts[admitted] += 1
        scheduler.arrive(admitted, admitted)  # the lane stays backlogged
    return counts


def _near(counts: Counter[str], expected: dict[str, int]) -> bool:
    """Shares as expected, give or take the one grant the phase of the rotation decides."""
    return set(counts) == set(expected) and all(abs(counts[k] - n) <= 1 for k, n in expected.items())


def _busy(slots: int = 1) -> LaneScheduler[str]:
    scheduler: LaneScheduler[str] = LaneScheduler(slots)
    for n in range(slots):
        assert scheduler.arrive("free", f"running-{n}") == [f"running-{n}"]
    return scheduler


def test_every_tier_has_one_lane() -> None:
    assert sorted(LANE_ORDER) == sorted(TIERS)


def test_free_slots_admit_at_once_and_then_queries_wait() -> None:
    scheduler: LaneScheduler[str] = LaneScheduler(2)
    assert scheduler.arrive("free", "a") == ["a"]
    assert scheduler.arrive("pro", "b") == ["b"]
    assert scheduler.arrive("enterprise", "c") == []
    assert (scheduler.running, scheduler.waiting(), scheduler.waiting("enterprise")) == (2, 1, 1)
    assert scheduler.finish() == ["c"]
    assert scheduler.finish() == []
    assert scheduler.running == 1


def test_an_enterprise_query_behind_a_free_backlog_is_next() -> None:
    scheduler = _busy()
    for n in range(50):
        scheduler.arrive("free", f"free-{n}")
    scheduler.arrive("pro", "pro")
    scheduler.arrive("enterprise", "enterprise")
    assert [scheduler.finish()[0] for _ in range(3)] == ["enterprise", "pro", "free-0"]


def test_each_lane_is_first_in_first_out() -> None:
    scheduler = _busy()
    for n in range(5):
        scheduler.arrive("free", f"free-{n}")
    assert [scheduler.finish()[0] for _ in range(5)] == [f"free-{n}" for n in range(5)]


def test_backlogged_lanes_share_the_slots_by_weight() -> None:
    # Weights 16 : 4 : 1; strict priority would give free nothing at all here.
    counts = _backlogged_grants(_busy(), ("enterprise", "pro", "free"), 2100)
    assert _near(counts, {"enterprise": 1600, "pro": 400, "free": 100}), counts


def test_free_progresses_under_pro_alone() -> None:
    counts = _backlogged_grants(_busy(), ("pro", "free"), 1000)
    assert _near(counts, {"pro": 800, "free": 200}), counts


def test_a_lone_lane_gets_every_slot() -> None:
    assert _backlogged_grants(_busy(), ("free",), 100) == {"free": 100}


def test_an_idle_lane_saves_no_credit_for_a_burst() -> None:
    scheduler = _busy()
    for n in range(1000):  # free alone for a long while
        scheduler.arrive("free", f"free-{n}")
    for _ in range(500):
        scheduler.finish()
    for n in range(170):  # then an enterprise burst: free keeps one grant in 17, not zero
        scheduler.arrive("enterprise", f"enterprise-{n}")
    firsts = [scheduler.finish()[0] for _ in range(170)]
    assert sum(item.startswith("free") for item in firsts) in (9, 10, 11)


def test_custom_weights() -> None:
    scheduler: LaneScheduler[str] = LaneScheduler(1, {"enterprise": 1, "pro": 1, "free": 1})
    scheduler.arrive("free", "running")
    counts = _backlogged_grants(scheduler, ("enterprise", "pro", "free"), 300)
    assert _near(counts, {"enterprise": 100, "pro": 100, "free": 100}), counts


def test_a_withdrawn_item_is_never_admitted() -> None:
    scheduler = _busy()
    scheduler.arrive("free", "gone")
    scheduler.arrive("free", "stays")
    assert scheduler.withdraw("gone")
    assert not scheduler.withdraw("gone")
    assert scheduler.finish() == ["stays"]


@pytest.mark.parametrize(
    "slots, weights",
    [
        (0, {"enterprise": 16, "pro": 4, "free": 1}),
        (4, {"enterprise": 16, "pro": 4}),
        (4, {"enterprise": 16, "pro": 4, "free": 0}),
    ],
)
def test_bad_settings_are_refused(slots: int, weights: dict[Tier, int]) -> None:
    with pytest.raises(ValueError, match=r"slot|weight"):
        LaneScheduler(slots, weights)


def test_finish_without_a_running_item_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        LaneScheduler[str](1).finish()
