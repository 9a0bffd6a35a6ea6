"""Exporting spans is off unless the operator chooses an exporter; console is the tested "on"."""

from __future__ import annotations

import io
import json

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from mobius.settings import MobiusSettings
from mobius.wiring.tracing import tracer_provider
from streams.tracing import TraceStamp, context_from
from streams.tracing import span as streams_span

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_off_by_default_and_on_with_the_standard_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MobiusSettings().traces_exporter == "none"
    assert tracer_provider("none", "w") is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "router-eu")
    settings = MobiusSettings()
    assert (settings.traces_exporter, settings.service_name) == ("console", "router-eu")
    monkeypatch.setenv("MOBIUS_TRACES_EXPORTER", "none")  # ours wins
    assert MobiusSettings().traces_exporter == "none"


def test_console_exports_the_route_span_under_the_callers_trace() -> None:
    out = io.StringIO()
    provider = tracer_provider("console", "router-test", out=out)
    assert provider is not None
    tracer = provider.get_tracer("mobius")
    with tracer.start_as_current_span(
        "process q", context=context_from({"traceparent": CALLER.encode()}), kind=SpanKind.CONSUMER
    ):
        pass
    provider.shutdown()  # flushes the batch
    exported = json.loads(out.getvalue())
    assert exported["name"] == "process q"
    assert exported["context"]["trace_id"] == "0x4bf92f3577b34da6a3ce929d0e0e4736"
    assert exported["parent_id"] == "0x00f067aa0ba902b7"
    assert exported["resource"]["attributes"]["service.name"] == "router-test"


def test_with_a_provider_the_route_span_is_recorded_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    provider = tracer_provider("console", "router-test", out=out)
    assert provider is not None
    monkeypatch.setattr(trace, "get_tracer", provider.get_tracer)
    with streams_span(
        "process q", kind=SpanKind.CONSUMER, parent=context_from({"traceparent": CALLER.encode()})
    ) as s:
        assert s.is_recording()
        stamp = TraceStamp.of(s)
    provider.shutdown()
    exported = json.loads(out.getvalue())
    assert stamp.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert exported["context"]["span_id"] == "0x" + dict(stamp.headers)["traceparent"].decode().split("-")[2]
