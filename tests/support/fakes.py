"""In-memory fakes for every port the pipeline depends on (streams/pipeline/ports.py).

They keep the adapters' contracts (one reservation per request, settle once, single flight)
without Redis or LiteLLM, so every branch of the pipeline is unit-tested without services.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from routing.budgets import Cap, CapExceeded, Reservation
from routing.classifier import Classification
from routing.outcomes import LLMError, LLMResult
from schemas.vocabulary import QUERY_TYPES, QueryType
from streams.pipeline.ports import BudgetUnavailable, ProviderCall

PRICES_NANO_PER_TOKEN = {"fast": 1, "smart": 10, "code": 4, "long-context": 2}


@dataclass
class FakeClassifier:
    """Types by marker words (a query naming "analyze" is complex, "python" is code), with the
    size rule and hints the real classifiers apply."""

    long_context_tokens: int = 12_000
    markers: dict[str, QueryType] = field(default_factory=lambda: {"analyze": "complex", "python": "code"})

    def classify(
        self, messages: Sequence[tuple[str, str]], prompt_tokens: int, hinted_type: QueryType | None = None
    ) -> Classification:
        if prompt_tokens >= self.long_context_tokens:
            return Classification("long_context", prompt_tokens, "size")
        if hinted_type is not None:
            return Classification(hinted_type, prompt_tokens, "hint")
        text = messages[-1][1].lower()
        found = next((t for word, t in self.markers.items() if word in text), "simple")
        probabilities = {t: 0.97 if t == found else 0.01 for t in QUERY_TYPES}
        return Classification(found, prompt_tokens, "model", probabilities, probabilities["complex"])


@dataclass
class FakeCompleter:
    """Answers every call (or raises `fail`), at a fixed price per token per group."""

    fail: LLMError | None = None
    pieces_before_failure: tuple[str, ...] = ()  # streamed, then the stream breaks
    completion_tokens: int = 3
    calls: list[tuple[str, int]] = field(default_factory=list)
    group_windows: dict[str, int] = field(
        default_factory=lambda: {
            "fast": 128_000,
            "smart": 200_000,
            "code": 1_000_000,
            "long-context": 1_000_000,
        }
    )

    async def complete(
        self,
        request_id: str,
        group: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        prompt_tokens: int | None = None,
        *,
        on_text: Callable[[str], Awaitable[None]] | None = None,
    ) -> LLMResult:
        self.calls.append((group, max_tokens))
        if self.fail:
            raise self.fail
        prompt = prompt_tokens or 9
        content = f"answer from {group}"
        for piece in self.pieces_before_failure or re.findall(r"\S+\s*", content):
            if on_text is not None:
                await on_text(piece)
        if self.pieces_before_failure:
            raise LLMError("stream_interrupted", "the answer broke off after it began")
        return LLMResult(
            content=content,
            group=group,
            model=f"openai/{group}-model",
            provider="openai",
            prompt_tokens=prompt,
            completion_tokens=self.completion_tokens,
            cost_nano_usd=self.estimate_nano(group, prompt, self.completion_tokens),
            provider_latency_ms=12,
            attempted_models=(f"openai/{group}-model",),
            fallbacks=0,
            retries=0,
        )

    def estimate_nano(self, group: str, prompt_tokens: int, max_tokens: int) -> int:
        return PRICES_NANO_PER_TOKEN[group] * (prompt_tokens + max_tokens)


@dataclass
class MemoryReplyStore:
    kept: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    async def get(self, request_id: str) -> tuple[bytes, bytes] | None:
        return self.kept.get(request_id)

    async def put(self, request_id: str, reply: bytes, completion: bytes) -> None:
        self.kept[request_id] = (reply, completion)


@dataclass
class MemoryBudgetStore:
    """Spend caps as the Redis store keeps them: counters per cap window, owned reservations."""

    near_cap_share: float = 0.8
    limits_nano: dict[tuple[str, str, str], int] = field(default_factory=dict)  # overrides
    spent_nano: dict[tuple[str, str, str], int] = field(default_factory=dict)
    held: dict[str, Reservation] = field(default_factory=dict)
    alerted: set[tuple[str, str, str, str]] = field(default_factory=set)
    unavailable: bool = False
    settled: list[tuple[str, int]] = field(default_factory=list)

    @staticmethod
    def _key(cap: Cap) -> tuple[str, str, str]:
        return cap.scope, cap.subject, cap.window

    def limit(self, cap: Cap) -> int:
        return self.limits_nano.get(self._key(cap), cap.default_limit_nano)

    async def reserve(
        self, request_id: str, caps: Sequence[Cap], primary_nano: int, cheaper_nano: int
    ) -> Reservation | CapExceeded:
        if self.unavailable:
            raise BudgetUnavailable("the fake store is down")
        if request_id in self.held:
            return self.held[request_id]
        spent = [self.spent_nano.get(self._key(c), 0) for c in caps]
        near = any(
            s + primary_nano > self.limit(c) * self.near_cap_share for c, s in zip(caps, spent, strict=True)
        )
        amount = cheaper_nano if near else primary_nano
        for cap, before in zip(caps, spent, strict=True):
            if before + amount > self.limit(cap):
                return CapExceeded(cap, before, self.limit(cap))
        for cap in caps:
            self.spent_nano[self._key(cap)] = self.spent_nano.get(self._key(cap), 0) + amount
        levels = tuple((s, self.limit(c)) for c, s in zip(caps, spent, strict=True))
        self.held[request_id] = Reservation(request_id, tuple(caps), amount, near, levels)
        return self.held[request_id]

    @contextlib.asynccontextmanager
    async def holding(self, reservation: Reservation) -> AsyncIterator[None]:
        yield

    async def settle(self, reservation: Reservation, actual_nano: int) -> None:
        if self.held.pop(reservation.request_id, None) is None:
            return
        self.settled.append((reservation.request_id, actual_nano))
        for cap in reservation.caps:
            self.spent_nano[self._key(cap)] += actual_nano - reservation.amount_nano

    async def first_alert(self, cap: Cap, level: str) -> bool:
        key = (*self._key(cap), level)
        if key in self.alerted:
            return False
        self.alerted.add(key)
        return True


@dataclass
class MemoryResponseCache:
    answers: dict[str, LLMResult] = field(default_factory=dict)
    ttls: dict[str, int] = field(default_factory=dict)

    async def single_flight(
        self, key: str, ttl_s: int, compute: Callable[[], Awaitable[ProviderCall]]
    ) -> ProviderCall | LLMResult:
        if key in self.answers:
            hit = self.answers[key]
            return LLMResult(**{**hit.__dict__, "cost_nano_usd": 0, "cache_hit": True})
        call = await compute()
        if isinstance(call.outcome, LLMResult):
            self.answers[key], self.ttls[key] = call.outcome, ttl_s
        return call
