"""Typed views of the Avro records, with the checks Avro itself cannot express.

A decoded QueryEvent that fails these checks is malformed: it goes to the DLQ with the reason.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.codec import AvroCodec, DecodeError
from schemas.vocabulary import AlertKind, QueryType, Tier

TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
MAX_IDENTIFIER = 200  # identifiers become Kafka keys and Redis keys: bounded before any use
MAX_REASON = 1000  # a dead letter's reason, whatever the input it quotes


def now_utc() -> datetime:
    """Now, at the millisecond precision Avro's timestamp-millis keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChatMessage(_Record):
    """One turn of the conversation a query carries."""

    role: Literal["system", "user", "assistant"]
    content: str


class QueryHints(_Record):
    """What a caller may suggest: a query type, max_tokens, an enterprise model group."""

    query_type: QueryType | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    model_group: str | None = None


class QueryEvent(_Record):
    """A query on mobius.queries (query_event.avsc), validated beyond what Avro checks."""

    request_id: str = Field(min_length=1, max_length=MAX_IDENTIFIER)
    created_at: datetime
    user_id: str = Field(min_length=1, max_length=MAX_IDENTIFIER)
    org_id: str | None = Field(default=None, max_length=MAX_IDENTIFIER)
    tier: Tier
    messages: tuple[ChatMessage, ...] = Field(min_length=1)
    hints: QueryHints | None = None
    reply_to: str
    metadata: dict[str, str] = Field(default_factory=dict)
    deadline: datetime | None = None
    stream: bool = False

    @field_validator("reply_to")
    @classmethod
    def _is_a_topic_name(cls, value: str) -> str:
        if not TOPIC_NAME.match(value):
            raise ValueError("reply_to must be a Kafka topic name")
        return value

    @field_validator("messages")
    @classmethod
    def _has_content(cls, value: tuple[ChatMessage, ...]) -> tuple[ChatMessage, ...]:
        if not any(m.content.strip() for m in value):
            raise ValueError("every message is empty")
        return value


class Usage(_Record):
    """Tokens a completion used."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ReplyEvent(_Record):
    """The answer (or error) sent to the caller's reply topic (reply_event.avsc)."""

    request_id: str
    status: Literal["ok", "error"]
    content: str | None = None
    model_group: str | None = None
    model: str | None = None
    usage: Usage | None = None
    cost_nano_usd: int = 0
    total_latency_ms: int = 0
    provider_latency_ms: int = 0
    queue_wait_ms: int = 0
    fallbacks: int = 0
    cache_hit: bool = False
    budget_downgraded: bool = False
    error_code: str | None = None
    error_message: str | None = None
    answered_at: datetime
    trace_id: str = ""  # W3C, 32 hex digits: links the reply, its completion record and its row


class ReplyChunk(_Record):
    """A piece of a streamed answer, sent to reply_to before the ReplyEvent (reply_chunk.avsc).

    `sequence` counts from 0 within one `stream_id`; a redelivered query streams again under a new
    stream_id, so a reader seeing a new id at sequence 0 knows the answer started over."""

    request_id: str
    stream_id: str
    sequence: int = Field(ge=0)
    text: str
    sent_at: datetime


class CompletionRecord(_Record):
    """One routed request for analytics, on mobius.completions (completion_record.avsc)."""

    request_id: str
    user_id: str
    org_id: str | None = None
    tier: str
    query_type: str
    complexity: float
    model_group: str
    model: str | None = None
    provider: str | None = None
    status: Literal["ok", "error"]
    error_code: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_nano_usd: int = 0
    total_latency_ms: int = 0
    provider_latency_ms: int = 0
    queue_wait_ms: int = 0
    attempted_models: tuple[str, ...] = ()
    fallback_count: int = 0
    cache_hit: bool = False
    budget_downgraded: bool = False
    worker_id: str
    created_at: datetime
    completed_at: datetime
    route_cause: str = ""
    p_simple: float = 0.0
    p_complex: float = 0.0
    p_code: float = 0.0
    p_long_context: float = 0.0
    trace_id: str = ""


class AlertEvent(_Record):
    """An alert on mobius.alerts (alert_event.avsc)."""

    alert_id: str
    kind: AlertKind
    subject: str
    message: str
    details: dict[str, str] = Field(default_factory=dict)
    worker_id: str
    raised_at: datetime


class MalformedEvent(Exception):
    """A query that cannot be routed; `reason` goes to the DLQ, `reply_to` is set when readable."""

    def __init__(self, reason: str, raw: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = _readable(raw, "request_id")
        if self.request_id is not None and len(self.request_id) > MAX_IDENTIFIER:
            self.request_id = None
        self.reply_to = _readable(raw, "reply_to")
        if self.reply_to is not None and not TOPIC_NAME.match(self.reply_to):
            self.reply_to = None


def _readable(raw: dict[str, Any] | None, key: str) -> str | None:
    value = (raw or {}).get(key)
    return value if isinstance(value, str) and value else None


QUERY_CODEC = AvroCodec.named("query_event")
REPLY_CODEC = AvroCodec.named("reply_event")
CHUNK_CODEC = AvroCodec.named("reply_chunk")
COMPLETION_CODEC = AvroCodec.named("completion_record")
ALERT_CODEC = AvroCodec.named("alert_event")


def decode_query(data: bytes) -> QueryEvent:
    """Bytes from mobius.queries to a valid QueryEvent, or MalformedEvent with the reason."""
    try:
        raw = QUERY_CODEC.decode(data)
    except DecodeError as exc:
        raise MalformedEvent(str(exc)) from exc
    try:
        return QueryEvent.model_validate(raw)
    except ValidationError as exc:
        raise MalformedEvent(_explain(exc), raw) from exc


def encode_query(event: QueryEvent) -> bytes:
    return QUERY_CODEC.encode(event.model_dump())


def encode_reply(event: ReplyEvent) -> bytes:
    return REPLY_CODEC.encode(event.model_dump())


def decode_reply(data: bytes) -> ReplyEvent:
    return ReplyEvent.model_validate(REPLY_CODEC.decode(data))


def encode_chunk(chunk: ReplyChunk) -> bytes:
    return CHUNK_CODEC.encode(chunk.model_dump())


def decode_reply_record(data: bytes) -> ReplyEvent | ReplyChunk:
    """A record from a reply topic: a ReplyChunk or a ReplyEvent, told apart by the writer schema's
    fingerprint in the frame (no header needed, so any Avro reader can tell them apart too)."""
    if CHUNK_CODEC.reads(data):
        return ReplyChunk.model_validate(CHUNK_CODEC.decode(data))
    return decode_reply(data)


def encode_completion(record: CompletionRecord) -> bytes:
    return COMPLETION_CODEC.encode(record.model_dump())


def decode_completion(data: bytes) -> CompletionRecord:
    return CompletionRecord.model_validate(COMPLETION_CODEC.decode(data))


def encode_alert(alert: AlertEvent) -> bytes:
    return ALERT_CODEC.encode(alert.model_dump())


def decode_alert(data: bytes) -> AlertEvent:
    return AlertEvent.model_validate(ALERT_CODEC.decode(data))


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "event"
        got = f" (got {error['input']!r:.100})" if error["type"] == "literal_error" else ""
        parts.append(f"{where}: {error['msg']}{got}")
    return ("invalid QueryEvent: " + "; ".join(parts))[:MAX_REASON]
