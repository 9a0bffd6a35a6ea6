"""The narrow interfaces the pipeline depends on; adapters live elsewhere, fakes in tests/support.

Completer       the LLM call (routing/llm_gateway.py)
BudgetGuard     spend caps: reserve, hold, settle (streams/stores/budgets.py)
ResponseCache   one call per burst of identical queries (streams/stores/cache.py)
ReplyStore      what a request produced, re-sent on redelivery (streams/stores/replies.py)
ChunkSink       a streamed reply's chunks, published by the agent as they come
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from routing.budgets import Cap, CapExceeded, Reservation
from routing.outcomes import LLMError, LLMResult
from routing.policy import RouteDecision
from schemas.events import CompletionRecord
from streams.outgoing import Outgoing

TokenCounter = Callable[[list[dict[str, str]]], int]
TextSink = Callable[[str], Awaitable[None]]  # a streamed answer's pieces, as they arrive
ChunkSink = Callable[[Outgoing], Awaitable[None]]  # records to publish during the call (chunks)


class BudgetUnavailable(Exception):
    """The budget store could not be asked; the policy decides whether that refuses the request."""


@dataclass(frozen=True)
class ProviderCall:
    """What one trip to the provider produced: the outcome, the route it finally took (a budget
    downgrade changes it) and the alerts raised on the way."""

    outcome: LLMResult | LLMError
    decision: RouteDecision
    alerts: tuple[Outgoing, ...] = ()


class Completer(Protocol):
    """The LLM call: one completion through a model group (streamed to `on_text` when given),
    and its estimated cost."""

    group_windows: dict[str, int]

    async def complete(
        self,
        request_id: str,
        group: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        prompt_tokens: int | None = None,
        *,
        on_text: TextSink | None = None,
    ) -> LLMResult: ...

    def estimate_nano(self, group: str, prompt_tokens: int, max_tokens: int) -> int: ...


class BudgetGuard(Protocol):
    """Spend caps: reserve before the call (owned by the request id), hold, settle once."""

    async def reserve(
        self, request_id: str, caps: Sequence[Cap], primary_nano: int, cheaper_nano: int
    ) -> Reservation | CapExceeded: ...

    def holding(self, reservation: Reservation) -> AbstractAsyncContextManager[None]: ...

    async def settle(self, reservation: Reservation, actual_nano: int) -> None: ...

    async def first_alert(self, cap: Cap, level: str) -> bool: ...


class ResponseCache(Protocol):
    """Answers identical queries once: the cached answer, or what `compute` returns."""

    async def single_flight(
        self, key: str, ttl_s: int, compute: Callable[[], Awaitable[ProviderCall]]
    ) -> ProviderCall | LLMResult: ...


class ReplyStore(Protocol):
    """What a request produced, by request id, so a redelivery re-sends instead of re-routing."""

    async def get(self, request_id: str) -> tuple[bytes, bytes] | None: ...

    async def put(self, request_id: str, reply: bytes, completion: bytes) -> None: ...


class PipelineMetrics(Protocol):
    """Where the pipeline reports what it did (Prometheus in a worker, nothing in most tests)."""

    def completed(self, record: CompletionRecord) -> None: ...

    def dead_lettered(self) -> None: ...
