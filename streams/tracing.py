"""Trace context across Kafka hops: W3C `traceparent` in record headers, and spans around each hop.

    client: span `send <lane topic>` -> traceparent in the query's headers
    worker: extract -> span `process <topic>` -> traceparent in the reply's and the completion
            record's headers, and the trace id in both bodies (the sink writes it to ClickHouse)

A caller's own OpenTelemetry context is continued; a query without one (or with a malformed
traceparent, which the propagator ignores) starts a new trace at the worker.

Exporting is the operator's choice (`mobius.wiring.tracing` installs the SDK's TracerProvider).
Without one the API's tracer is a no-op whose spans have no ids of their own (an invalid context,
or the parent's span id), so `span()` replaces such a span with a non-recording one holding ids
from the SDK's generator: linking a reply, its record and its row costs two random numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.util.types import AttributeValue

from schemas.events import CompletionRecord

TRACER_NAME = "mobius"
Header = tuple[str, bytes]

_IDS = RandomIdGenerator()


class _HeaderList(Setter[list[Header]]):
    def set(self, carrier: list[Header], key: str, value: str) -> None:
        carrier.append((key, value.encode()))


class _HeaderMap(Getter[Mapping[str, bytes]]):
    def get(self, carrier: Mapping[str, bytes], key: str) -> list[str] | None:
        value = carrier.get(key.lower())
        # Undecodable bytes become a value the propagator rejects: a new trace, never an error.
        return None if value is None else [value.decode("utf-8", "replace")]

    def keys(self, carrier: Mapping[str, bytes]) -> list[str]:
        return list(carrier)


_SETTER, _GETTER = _HeaderList(), _HeaderMap()


@dataclass(frozen=True)
class TraceStamp:
    """What each record a hop publishes carries: the trace id (32 hex digits) for its body and
    the propagation headers (traceparent, tracestate) for its Kafka headers."""

    trace_id: str = ""
    headers: tuple[Header, ...] = ()

    @classmethod
    def of(cls, span: Span) -> TraceStamp:
        context = trace.set_span_in_context(span)
        return cls(trace.format_trace_id(span.get_span_context().trace_id), headers_of(context))


NO_TRACE = TraceStamp()  # records built outside a traced hop (tools, tests)


def headers_of(context: Context | None = None) -> tuple[Header, ...]:
    """The propagation headers of `context` (default: the current one)."""
    carrier: list[Header] = []
    propagate.inject(carrier, context=context, setter=_SETTER)
    return tuple(carrier)


def context_from(headers: Iterable[tuple[str, bytes | None]] | Mapping[str, bytes | None] | None) -> Context:
    """The context a record's headers carry (an empty one when they carry none, or nonsense)."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    carrier: Mapping[str, bytes] = {
        key.lower(): bytes(value)
        for key, value in pairs
        if isinstance(key, str) and isinstance(value, bytes | bytearray)  # Kafka allows null values
    }
    return propagate.extract(carrier, context=Context(), getter=_GETTER)


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind,
    parent: Context | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A current span (exported when a TracerProvider is installed), always with ids of its own."""
    started = trace.get_tracer(TRACER_NAME).start_span(name, context=parent, kind=kind, attributes=attributes)
    above = trace.get_current_span(parent).get_span_context()
    own = started.get_span_context()
    if not own.is_valid or own.span_id == above.span_id:
        started = _generated(above)
    with trace.use_span(started, end_on_exit=True, record_exception=True, set_status_on_exception=True):
        yield started


def _generated(parent: SpanContext) -> NonRecordingSpan:
    """A non-recording child of `parent` (the root of a new trace when `parent` is invalid)."""
    if parent.is_valid:
        trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
    else:
        trace_id, flags, state = _IDS.generate_trace_id(), TraceFlags(TraceFlags.DEFAULT), None
    own = SpanContext(
        trace_id, _IDS.generate_span_id(), is_remote=False, trace_flags=flags, trace_state=state
    )
    return NonRecordingSpan(own)


def messaging_attributes(
    operation: str, topic: str, extra: Mapping[str, AttributeValue] | None = None
) -> dict[str, AttributeValue]:
    """OpenTelemetry's messaging conventions for one Kafka operation ("send" or "process")."""
    return {
        "messaging.system": "kafka",
        "messaging.operation.name": operation,
        "messaging.operation.type": operation,
        "messaging.destination.name": topic,
        **(extra or {}),
    }


def describe_completion(record: CompletionRecord) -> None:
    """Put a routed request's outcome on the current span, in the GenAI conventions' names (a
    non-recording span drops them at no cost)."""
    current = trace.get_current_span()
    if not current.is_recording():
        return
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": record.model_group,
        "gen_ai.usage.input_tokens": record.prompt_tokens,
        "gen_ai.usage.output_tokens": record.completion_tokens,
        "mobius.request_id": record.request_id,
        "mobius.tier": record.tier,
        "mobius.query_type": record.query_type,
        "mobius.cost_nano_usd": record.cost_nano_usd,
        "mobius.cache_hit": record.cache_hit,
        "mobius.fallbacks": record.fallback_count,
    }
    if record.model:
        attributes["gen_ai.response.model"] = record.model
    if record.provider:
        attributes["gen_ai.provider.name"] = record.provider
    if record.error_code:
        attributes["error.type"] = record.error_code
    current.set_attributes(attributes)
