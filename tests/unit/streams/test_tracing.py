"""Trace context through Kafka headers: a round trip, nonsense ignored, ids even with no SDK."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from streams.tracing import TraceStamp, context_from, headers_of, span

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _ids(stamp: TraceStamp) -> tuple[str, str, str]:
    _, trace_id, span_id, flags = dict(stamp.headers)["traceparent"].decode().split("-")
    return trace_id, span_id, flags


def test_headers_round_trip_the_trace_and_the_parent_span() -> None:
    context = context_from([("traceparent", CALLER.encode()), ("other", b"x")])
    assert dict(headers_of(context))["traceparent"].decode() == CALLER


def test_a_span_under_received_headers_continues_their_trace_with_its_own_span_id() -> None:
    with span(
        "process q", kind=SpanKind.CONSUMER, parent=context_from({"TraceParent": CALLER.encode()})
    ) as s:
        stamp = TraceStamp.of(s)
        assert trace.get_current_span() is s
    assert stamp.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert _ids(stamp) == (stamp.trace_id, _ids(stamp)[1], "01")
    assert _ids(stamp)[1] not in ("00f067aa0ba902b7", "0" * 16)


@pytest.mark.parametrize(
    "headers",
    [
        None,
        [],
        [("traceparent", b"nonsense")],
        [("traceparent", b"00-00000000000000000000000000000000-00f067aa0ba902b7-01")],  # invalid id
        [("traceparent", b"\xff\xfe not utf-8")],
        [("traceparent", None)],  # Kafka allows a header without a value
        [(b"\x00", b"bytes as a key")],
    ],
    ids=["none", "empty", "nonsense", "zero-trace", "not-utf8", "null-value", "bytes-key"],
)
def test_without_a_usable_traceparent_a_new_trace_starts(headers: object) -> None:
    with span("process q", kind=SpanKind.CONSUMER, parent=context_from(headers)) as first:  # type: ignore[arg-type]
        one = TraceStamp.of(first)
    with span("process q", kind=SpanKind.CONSUMER, parent=context_from(headers)) as second:  # type: ignore[arg-type]
        two = TraceStamp.of(second)
    assert len(one.trace_id) == 32 and one.trace_id != "0" * 32
    assert one.trace_id != two.trace_id
    assert _ids(one)[0] == one.trace_id
