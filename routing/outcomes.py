"""What a provider call ends in, as plain values (no LiteLLM import, so clients stay light)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LLMResult:
    """One answered completion: content, who answered, tokens, exact cost and attempts."""

    content: str
    group: str  # the group that answered (differs from the requested one after a fallback)
    model: str  # the deployment's model, e.g. openai/gpt-4o-mini
    provider: str
    prompt_tokens: int
    completion_tokens: int
    cost_nano_usd: int
    provider_latency_ms: int
    attempted_models: tuple[str, ...]
    fallbacks: int
    retries: int
    cache_hit: bool = False


class LLMError(Exception):
    """Every deployment and fallback failed; `code` is stable, `message` is for people.

    `retry_after_s` is set only when every deployment the call could reach was rate-limited or
    cooling down: capacity comes back by itself after about that long (see routing/backpressure.py).
    """

    def __init__(
        self,
        code: str,
        message: str,
        attempted_models: Sequence[str] = (),
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.attempted_models = tuple(attempted_models)
        self.retry_after_s = retry_after_s
