"""What the simulated providers do, as pure functions over a mutable control state.

Context windows come from LiteLLM's bundled price map, so each model refuses exactly the prompts the
real one would. Latency is time-to-first-token plus output tokens at the model's speed, scaled (or
fixed) at run time; outages, error rates and rpm limits are switched at run time too.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from routing.price_map import price_map

CONTENT_POLICY_MARKER = "[[policy-violation]]"
RATE_WINDOW_S = 60.0

# (time to first token in ms, output tokens per second): public ballpark figures per family.
_SPEEDS = {
    "gpt-4o-mini": (350, 90.0),
    "gpt-4o": (500, 60.0),
    "gpt-4.1": (600, 55.0),
    "gpt-4.1-mini": (400, 80.0),
    "claude-haiku-4-5": (400, 110.0),
    "claude-sonnet-4-5": (700, 55.0),
}


@dataclass(frozen=True)
class ModelProfile:
    """How one simulated model behaves: window, latency, speed, price-relevant usage."""

    name: str
    provider: str
    context_window: int
    max_output_tokens: int
    ttft_ms: int
    tokens_per_s: float


def profile(model: str) -> ModelProfile | None:
    info = price_map().get(model)
    if info is None or info.get("mode") not in (None, "chat"):
        return None
    ttft, tps = _SPEEDS.get(model, (500, 60.0))
    return ModelProfile(
        name=model,
        provider=str(info.get("litellm_provider", "openai")),
        context_window=int(info.get("max_input_tokens") or info.get("max_tokens") or 8192),
        max_output_tokens=int(info.get("max_output_tokens") or 4096),
        ttft_ms=ttft,
        tokens_per_s=tps,
    )


@dataclass
class Controls:
    """Run-time switches, set over HTTP by tests and the demo."""

    down: set[str] = field(default_factory=set)  # provider or model names
    error_rate: dict[str, float] = field(default_factory=dict)  # name -> share of 500s
    rpm: dict[str, int] = field(default_factory=dict)  # model -> requests per rate window
    rate_window_s: float = RATE_WINDOW_S  # a minute, as providers count; tests shorten it
    latency_scale: float = 1.0
    fixed_latency_ms: int | None = None
    max_output_tokens: int = 300
    # Streaming: fixed time to first token and delay between pieces (None: the model's own pace).
    stream_ttft_ms: int | None = None
    inter_token_ms: float | None = None
    stream_cut_after: dict[str, int] = field(default_factory=dict)  # name -> pieces sent, then cut

    def reset(self) -> None:
        self.update(Controls().as_dict())

    def update(self, body: dict[str, Any]) -> None:
        if "down" in body:
            self.down = set(body["down"])
        if "error_rate" in body:
            self.error_rate = {k: float(v) for k, v in body["error_rate"].items()}
        if "rpm" in body:
            self.rpm = {k: int(v) for k, v in body["rpm"].items()}
        if "rate_window_s" in body:
            self.rate_window_s = float(body["rate_window_s"])
        if "latency_scale" in body:
            self.latency_scale = float(body["latency_scale"])
        if "fixed_latency_ms" in body:
            value = body["fixed_latency_ms"]
            self.fixed_latency_ms = None if value is None else int(value)
        if "max_output_tokens" in body:
            self.max_output_tokens = int(body["max_output_tokens"])
        if "stream_cut_after" in body:
            self.stream_cut_after = {k: int(v) for k, v in body["stream_cut_after"].items()}
        if "stream_ttft_ms" in body:
            value = body["stream_ttft_ms"]
            self.stream_ttft_ms = None if value is None else int(value)
        if "inter_token_ms" in body:
            value = body["inter_token_ms"]
            self.inter_token_ms = None if value is None else float(value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "down": sorted(self.down),
            "error_rate": self.error_rate,
            "rpm": self.rpm,
            "rate_window_s": self.rate_window_s,
            "latency_scale": self.latency_scale,
            "fixed_latency_ms": self.fixed_latency_ms,
            "max_output_tokens": self.max_output_tokens,
            "stream_ttft_ms": self.stream_ttft_ms,
            "inter_token_ms": self.inter_token_ms,
            "stream_cut_after": self.stream_cut_after,
        }


@dataclass(frozen=True)
class Outcome:
    """Either a completion (status 200) or a failure of a given kind."""

    kind: str  # ok, context_window, content_policy, rate_limited, outage, server_error, unknown_model
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    text: str = ""
    ttft_s: float = 0.0  # a stream's first piece comes this long after the request
    retry_after_s: int = 0
    detail: str = ""


class RateWindow:
    """Requests per model over the last 60 s, to answer 429 above the model's rpm."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._seen.clear()

    def admit(self, model: str, rpm: int | None, now: float, window_s: float = RATE_WINDOW_S) -> int:
        """0 when admitted; otherwise seconds until a slot frees up."""
        if rpm is None:
            return 0
        window = self._seen.setdefault(model, deque())
        while window and now - window[0] >= window_s:
            window.popleft()
        if len(window) >= rpm:
            return max(1, math.ceil(window_s - (now - window[0])))
        window.append(now)
        return 0


def estimate_tokens(texts: list[str]) -> int:
    """About four characters a token, plus the per-message overhead providers bill."""
    return sum(4 + math.ceil(len(t) / 4) for t in texts)


def decide(  # noqa: PLR0911 - one return per kind of outcome reads best
    model: str,
    texts: list[str],
    max_tokens: int | None,
    *,
    controls: Controls,
    rates: RateWindow,
    roll: float,
    now: float | None = None,
) -> Outcome:
    prof = profile(model)
    if prof is None:
        return Outcome("unknown_model", detail=model)
    if prof.provider in controls.down or model in controls.down:
        return Outcome("outage")
    if roll < controls.error_rate.get(model, controls.error_rate.get(prof.provider, 0.0)):
        return Outcome("server_error")
    retry_after = rates.admit(
        model, controls.rpm.get(model), time.monotonic() if now is None else now, controls.rate_window_s
    )
    if retry_after:
        return Outcome("rate_limited", retry_after_s=retry_after)
    prompt_tokens = estimate_tokens(texts)
    if prompt_tokens > prof.context_window:
        return Outcome("context_window", prompt_tokens=prompt_tokens, detail=str(prof.context_window))
    if any(CONTENT_POLICY_MARKER in t for t in texts):
        return Outcome("content_policy")
    completion_tokens = _answer_length(texts, min(max_tokens or 10**9, controls.max_output_tokens), model)
    if controls.fixed_latency_ms is not None:
        latency = ttft = controls.fixed_latency_ms / 1000
    else:
        latency = (prof.ttft_ms / 1000 + completion_tokens / prof.tokens_per_s) * controls.latency_scale
        ttft = prof.ttft_ms / 1000 * controls.latency_scale
    if controls.stream_ttft_ms is not None:
        ttft = controls.stream_ttft_ms / 1000
    text = _answer_text(model, texts, completion_tokens)
    return Outcome("ok", prompt_tokens, completion_tokens, latency, text, ttft_s=ttft)


def stream_pieces(text: str) -> list[str]:
    """The answer as a stream sends it: word by word, each with the whitespace after it, so the
    pieces joined are the text exactly."""
    return re.findall(r"\s*\S+\s*|\s+", text) or [text]


def piece_delay_s(outcome: Outcome, pieces: int, controls: Controls) -> float:
    """Seconds between a stream's pieces: the configured delay, or the rest of the answer's
    latency spread over them (a stream takes as long as the same answer unstreamed)."""
    if controls.inter_token_ms is not None:
        return controls.inter_token_ms / 1000
    return max(0.0, outcome.latency_s - outcome.ttft_s) / max(1, pieces)


# Answer lengths in tokens by the kind of request, like real models: a line for a lookup, more for
# reasoning and code, a summary's worth for a long document (each from a hash: deterministic).
_LENGTHS = {"simple": (12, 40), "reasoning": (120, 260), "code": (80, 220), "document": (150, 300)}
_CODE_HINTS = ("```", "def ", "function", "script", "regex", "sql", "select ", "dockerfile", "yaml", "bash")
REASONING_MODELS = ("gpt-4o", "claude-sonnet-4-5")
LONG_PROMPT_CHARS = 40_000


def _kind(model: str, texts: list[str]) -> str:
    """What the question asks for, as the simulator sees it (it answers like the model routed to)."""
    question = texts[-1].lower()[:2000] if texts else ""
    if sum(len(t) for t in texts) > LONG_PROMPT_CHARS:
        return "document"
    if any(hint in question for hint in _CODE_HINTS):
        return "code"
    return "reasoning" if model in REASONING_MODELS else "simple"


def _answer_length(texts: list[str], cap: int, model: str = "") -> int:
    low, high = _LENGTHS[_kind(model, texts)]
    digest = hashlib.blake2b("".join(texts[-1:]).encode(), digest_size=2).digest()
    return max(1, min(cap, low + int.from_bytes(digest, "big") % (high - low)))


def _answer_text(model: str, texts: list[str], tokens: int) -> str:
    """A short answer that says who answered and echoes what was asked (about `tokens` long)."""
    question = " ".join(texts[-1].split()[:14]) if texts else ""
    kind = _kind(model, texts)
    head = {
        "simple": f'{model} (simulated) answering "{question}": a one-line answer would be here.',
        "reasoning": f'{model} (simulated) working through "{question}" step by step.',
        "code": f'{model} (simulated) writing what "{question}" asks for:\n```\n# code would be here\n```',
        "document": f'{model} (simulated) summarising the document ("{question}").',
    }[kind]
    steps, words = [head], len(head.split())
    step = 1
    while words < tokens * 3 // 4 and kind != "simple":
        line = f"Step {step}: a further point of the simulated answer."
        steps.append(line)
        words += len(line.split())
        step += 1
    return "\n".join(steps)
