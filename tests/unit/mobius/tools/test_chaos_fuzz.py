"""The chaos fuzzer draws only wrong events: each fails decoding with a reason (a dead letter) or,
for a past deadline, decodes and must be answered with an error; none crashes the decoder."""

from __future__ import annotations

from collections import Counter

from mobius.tools.chaos_fuzz import ANSWERED_KINDS, DEAD_LETTERED_KINDS, KINDS, malformed_events
from schemas.events import MalformedEvent, decode_query


def test_every_drawn_event_is_refused_or_answered_with_an_error() -> None:
    events = malformed_events(1500, "mobius.replies", "fuzz", seed=7)
    assert len(events) == 1500
    assert set(Counter(e.kind for e in events)) == set(KINDS)
    for event in events:
        try:
            decoded = decode_query(event.value)
        except MalformedEvent as refused:
            assert event.kind in DEAD_LETTERED_KINDS and refused.reason
            if event.kind in ANSWERED_KINDS:  # its reply is owed: the ids survived decoding
                assert refused.request_id == event.request_id and refused.reply_to == "mobius.replies"
        else:
            assert event.kind == "past_deadline"
            assert decoded.deadline is not None and decoded.deadline < decoded.created_at


def test_a_seed_draws_the_same_events() -> None:
    def shape(seed: int) -> list[tuple[str, str | None, int]]:
        return [(e.kind, e.request_id, len(e.value)) for e in malformed_events(50, "r", "fuzz", seed=seed)]

    assert shape(3) == shape(3) != shape(4)
