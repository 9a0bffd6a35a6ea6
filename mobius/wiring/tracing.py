"""Exporting the worker's spans: the operator's choice, off by default.

Off (`none`), no TracerProvider is installed: the OpenTelemetry API's spans are no-ops and
`streams.tracing` still gives every route generated ids (see there). `console` prints each span
as JSON (the SDK's own exporter); `otlp` needs `opentelemetry-exporter-otlp-proto-http`
installed and reads the standard OTEL_EXPORTER_OTLP_* variables itself.
"""

from __future__ import annotations

import sys
from typing import Literal, TextIO

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

TracesExporter = Literal["none", "console", "otlp"]


class ExporterMissing(Exception):
    """The chosen exporter's package is not installed."""


def tracer_provider(
    exporter: TracesExporter, service_name: str, out: TextIO = sys.stdout
) -> TracerProvider | None:
    """The SDK provider exporting to `exporter` in batches; None when exporting is off."""
    if exporter == "none":
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    processor: SpanProcessor = BatchSpanProcessor(_exporter(exporter, out))
    provider.add_span_processor(processor)
    return provider


def _exporter(exporter: TracesExporter, out: TextIO) -> SpanExporter:
    if exporter == "console":
        return ConsoleSpanExporter(out=out)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]  # noqa: PLC0415
            OTLPSpanExporter,
        )
    except ImportError as exc:
        raise ExporterMissing(
            "OTEL_TRACES_EXPORTER=otlp needs the opentelemetry-exporter-otlp-proto-http package"
        ) from exc
    found: SpanExporter = OTLPSpanExporter()
    return found
