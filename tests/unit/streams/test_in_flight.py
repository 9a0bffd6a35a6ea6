"""InFlight: events are released for acking only in offset order, and a revoked partition's never."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.in_flight import InFlight

P0, P1 = TP("q", 0), TP("q", 1)


def _event(tp: TP, offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset))


def test_a_finished_event_waits_for_the_earlier_ones_of_its_partition() -> None:
    in_flight = InFlight()
    events = [_event(P0, 5), _event(P0, 6), _event(P1, 9)]
    for event in events:
        in_flight.take(event)
    assert in_flight.release(events[1]) == []
    assert in_flight.release(events[2]) == [events[2]]  # another partition is not held back
    assert in_flight.release(events[0]) == [events[0], events[1]]
    assert in_flight.events == {}


def test_a_revoked_partition_is_forgotten_and_never_acked() -> None:
    in_flight = InFlight()
    kept, revoked = _event(P0, 1), _event(P1, 1)
    in_flight.take(kept)
    in_flight.take(revoked)
    in_flight.forget([P1])
    assert list(in_flight.events) == [(P0, 1)]
    assert in_flight.release(kept) == [kept]


def test_an_event_is_held_until_released_or_revoked_and_a_redelivered_copy_is_not_the_old_one() -> None:
    in_flight = InFlight()
    first, revoked = _event(P0, 1), _event(P1, 1)
    in_flight.take(first)
    in_flight.take(revoked)
    assert in_flight.holds(first) and in_flight.holds(revoked)
    in_flight.forget([P1])
    again = _event(P1, 1)  # the partition came back and its offset was delivered anew
    in_flight.take(again)
    assert not in_flight.holds(revoked) and in_flight.holds(again)
    in_flight.release(first)
    assert not in_flight.holds(first)
