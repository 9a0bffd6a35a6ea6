"""Malformed query events for the chaos suite, drawn by Hypothesis: random bytes, truncated Avro, a
wrong or short schema header, invalid UTF-8, values outside the vocabulary, absurd numbers and
deadlines already past. Every event drawn is wrong in at least one way, so each must end as a dead
letter or an error reply; none may be answered, crash a worker or stall a partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from schemas.codec import SINGLE_OBJECT_MAGIC
from schemas.events import QUERY_CODEC, QueryEvent, now_utc
from schemas.vocabulary import TIERS

KINDS = (
    "random_bytes",
    "truncated_avro",
    "wrong_fingerprint",
    "short_header",
    "invalid_utf8",
    "unknown_enum",
    "absurd_number",
    "past_deadline",
)
# Kinds whose request id and reply_to survive decoding: the caller is owed an error reply too.
ANSWERED_KINDS = frozenset({"unknown_enum", "absurd_number", "past_deadline"})
# A past deadline is a valid event: answered with an error, never a dead letter.
DEAD_LETTERED_KINDS = frozenset(KINDS) - {"past_deadline"}


@dataclass(frozen=True)
class FuzzEvent:
    kind: str
    value: bytes
    request_id: str | None  # set when an error reply is owed


def _valid(request_id: str, reply_to: str, text: str, created_at: datetime) -> dict[str, Any]:
    event = QueryEvent(
        request_id=request_id,
        created_at=created_at,
        user_id="chaos-fuzz",
        tier="free",
        messages=({"role": "user", "content": f"fuzz {text}"},),  # type: ignore[arg-type]
        reply_to=reply_to,
    )
    return event.model_dump()


def _not_in(vocabulary: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.text(min_size=0, max_size=20).filter(lambda s: s not in vocabulary)


@st.composite
def malformed_event(draw: st.DrawFn, request_id: str, reply_to: str, created_at: datetime) -> FuzzEvent:
    kind = draw(st.sampled_from(KINDS))
    record = _valid(request_id, reply_to, draw(st.text(max_size=200)), created_at)
    if kind == "random_bytes":
        value = draw(st.binary(max_size=2048))
    elif kind == "truncated_avro":
        whole = QUERY_CODEC.encode(record)
        value = whole[: draw(st.integers(0, len(whole) - 1))]
    elif kind == "wrong_fingerprint":
        fingerprint = draw(st.binary(min_size=8, max_size=8).filter(lambda b: b != QUERY_CODEC.fingerprint))
        value = SINGLE_OBJECT_MAGIC + fingerprint + QUERY_CODEC.encode(record)[10:]
    elif kind == "short_header":
        value = draw(st.sampled_from([SINGLE_OBJECT_MAGIC, b"\x00"])) + draw(st.binary(max_size=3))
    elif kind == "invalid_utf8":
        marker = "\u0001" * 4
        record["messages"] = [{"role": "user", "content": f"hello {marker}"}]
        broken = draw(st.sampled_from([b"\xff\xfe\xfd\xfc", b"\xc3\x28\xa0\xa1", b"\xed\xa0\x80\x80"]))
        value = QUERY_CODEC.encode(record).replace(marker.encode(), broken)
    elif kind == "unknown_enum":
        field = draw(st.sampled_from(["tier", "role", "query_type"]))
        if field == "tier":
            record["tier"] = draw(_not_in(TIERS))
        elif field == "role":
            record["messages"] = [{"role": draw(_not_in(("system", "user", "assistant"))), "content": "hi"}]
        else:
            record["hints"] = {"query_type": draw(_not_in(("simple", "reasoning", "long_context", "code")))}
        value = QUERY_CODEC.encode(record)
    elif kind == "absurd_number":
        record["hints"] = {"max_tokens": draw(st.integers(-(2**31), 0))}
        value = QUERY_CODEC.encode(record)
    else:  # past_deadline: a valid event the worker must refuse to route, with an error reply
        record["deadline"] = record["created_at"] - timedelta(seconds=draw(st.integers(1, 10**6)))
        value = QUERY_CODEC.encode(record)
    return FuzzEvent(kind, value, request_id if kind in ANSWERED_KINDS else None)


def malformed_events(count: int, reply_to: str, prefix: str, seed: int = 0) -> list[FuzzEvent]:
    """`count` malformed events, reproducible for a seed (Hypothesis draws, no shrinking)."""
    drawn: list[FuzzEvent] = []
    # Same-length ids and one timestamp: Hypothesis wants each draw independent of outside state.
    ids = iter(f"{prefix}-{i:07d}" for i in range(count * 2))
    created_at = now_utc()

    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.data())
    def draw_one(data: st.DataObject) -> None:
        if len(drawn) < count:
            drawn.append(data.draw(malformed_event(next(ids), reply_to, created_at)))

    round_seed = seed
    while len(drawn) < count:  # Hypothesis may stop a run early; another seed draws the rest
        hypothesis_seed(round_seed)(draw_one)()
        round_seed += 1
    return drawn
