"""The one door to the LLM providers: LiteLLM's Router, built from the config, behind `complete()`.

LiteLLM does the load balancing, retries, cooldowns, fallbacks and rpm/tpm limits (shared through
Redis when configured). This adapter adds what the pipeline needs around it: the exact cost from
LiteLLM's price map in integer nano-dollars, which models were tried, and errors translated into
our own `LLMError` codes at the boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import litellm
from litellm.router import Router, router_arguments
from litellm.router_config import build_router_config
from litellm.router_python_host import PythonHost

from routing.attempts import REQUEST_ID_KEY, AttemptLog, FailedAttempt
from routing.direct_calls import DirectCalls, DirectHost
from routing.errors import error_code, retry_after_s
from routing.litellm_trims import PRICED_BY_CALLER, reads_litellm_cost, skip_litellm_response_cost
from routing.outcomes import LLMError, LLMResult
from routing.price_map import model_info, token_prices
from routing.router_config import RedisParams, RouterConfig

logger = logging.getLogger(__name__)
NANO = Decimal(10**9)
TextSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Price:
    """USD per token, exact as LiteLLM's price map writes it."""

    input: Decimal
    output: Decimal

    def cost_nano_usd(self, prompt_tokens: int, completion_tokens: int) -> int:
        usd = self.input * prompt_tokens + self.output * completion_tokens
        return int((usd * NANO).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# Prompts up to this share of the smallest context window they could reach skip LiteLLM's
# pre-call window check (tokenizers differ by far less than this between providers).
UNCHECKED_WINDOW_SHARE = 0.5


def build_router(
    config: RouterConfig, redis: RedisParams | None = None, host: PythonHost | None = None, **overrides: Any
) -> Any:
    """LiteLLM's Router as LiteLLM's proxy builds it from the same config (the benchmark's bare
    Router comes from here too, so both measure the same thing); `overrides` replace
    router_settings entries, and `host` replaces the one LiteLLM's Router makes its calls through.
    Returns litellm's Router (its types are partial)."""
    for key, value in config.litellm_settings.items():
        setattr(litellm, key, value)  # what LiteLLM's proxy does with litellm_settings
    settings = config.router_settings | overrides
    redis_args: dict[str, Any] = {}
    if redis is not None:
        redis_args = {"redis_host": redis.host, "redis_port": redis.port, "redis_password": redis.password}
        if redis.username:  # LiteLLM hands cache_kwargs to its Redis client
            settings["cache_kwargs"] = dict(settings.get("cache_kwargs") or {}) | {"username": redis.username}
    model_list = [d.model_dump() for d in config.model_list]
    if host is None:
        return Router(model_list=model_list, **redis_args, **settings)
    arguments = router_arguments(model_list=model_list, **redis_args, **settings)
    return Router.from_config(build_router_config(arguments), host)


class LLMGateway:
    """The pipeline's Completer: LiteLLM's Router behind one `complete` call, with exact costs."""

    def __init__(self, config: RouterConfig, attempts: AttemptLog, redis: RedisParams | None = None) -> None:
        if attempts not in litellm.callbacks:
            litellm.callbacks.append(attempts)
        self.attempts = attempts
        self.groups = config.groups
        # Plain attempts skip litellm.acompletion's wrapper (~90% of a bare Router's CPU a call);
        # only calls this gateway prices itself, so LiteLLM's own cost stays on every other call.
        self.direct_calls = DirectCalls(served_callbacks=(AttemptLog,))
        host = DirectHost(self.direct_calls) if config.mobius.direct_provider_calls else None
        self.router = build_router(config, redis, host)
        # LiteLLM's pre-call check counts every prompt's tokens again and looks up each
        # deployment's window, on every call (~15% of the worker's samples under `mobius
        # bench --profile`), and can only drop deployments too small for the prompt. Prompts the
        # pipeline has counted and that fit everywhere they could go use a twin Router without
        # it. Both keep rate limits and cooldowns in Redis under the same deployment ids, so they
        # share them as the workers do.
        self._unchecked = self.router
        if config.router_settings.get("enable_pre_call_checks"):
            self._unchecked = build_router(config, redis, host, enable_pre_call_checks=False)
        self._prices: dict[str, Price] = {}
        self._groups: dict[str, str] = {}
        windows: dict[str, int] = {}  # the largest window per group: what the policy routes by
        smallest: dict[str, int] = {}
        for deployment in self.deployments():
            model_id = str(deployment["model_info"]["id"])
            params = deployment["litellm_params"]
            self._prices[model_id] = deployment_price(params)
            self._groups[model_id] = deployment["model_name"]
            window = _context_window(params, deployment.get("model_info") or {})
            group = deployment["model_name"]
            windows[group] = max(windows.get(group, 0), window)
            smallest[group] = min(smallest.get(group, window), window)
        self.group_windows: dict[str, int] = windows
        # Every answer is priced here; LiteLLM's own pricing is skipped unless its config reads it.
        self._metadata: dict[str, Any] = {}
        if not reads_litellm_cost(config.router_settings, [d.model_dump() for d in config.model_list]):
            skip_litellm_response_cost()
            self._metadata[PRICED_BY_CALLER] = True
        self._unchecked_max_tokens = {
            group: int(min(smallest[g] for g in config.fallback_reach(group)) * UNCHECKED_WINDOW_SHARE)
            for group in smallest
        }

    async def aclose(self) -> None:
        """Close the provider connections the direct attempts keep open (in this event loop)."""
        await self.direct_calls.aclose()

    def deployments(self) -> list[dict[str, Any]]:
        """Every deployment as the Router holds it (os.environ/ references resolved, ids assigned)."""
        registry = self.router.registry()
        return [d for group in sorted(self.groups) for d in registry.deployments(group)]

    async def complete(
        self,
        request_id: str,
        group: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        prompt_tokens: int | None = None,
        *,
        on_text: TextSink | None = None,
    ) -> LLMResult:
        """One call through LiteLLM; `prompt_tokens`, when the caller counted them, lets a prompt
        that fits every reachable deployment skip LiteLLM's pre-call window check. With `on_text`
        the answer is streamed: each piece goes there as it arrives (see `_streamed`)."""
        started = time.perf_counter()
        router = self._router_for(group, prompt_tokens)
        metadata = {REQUEST_ID_KEY: request_id, **self._metadata}
        try:
            if on_text is not None:
                response = await _streamed(router, group, messages, max_tokens, metadata, on_text=on_text)
            else:
                response = await router.acompletion(
                    model=group,
                    messages=messages,
                    max_tokens=max_tokens,
                    metadata=metadata,
                )
        except StreamBroken as broken:
            self.attempts.pop(request_id)
            raise LLMError("stream_interrupted", broken.reason) from broken
        except Exception as exc:  # LiteLLM raises its own tree plus httpx/openai errors
            raise failure_of(exc, self.attempts.pop(request_id)) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        failed = tuple(f.model for f in self.attempts.pop(request_id))
        model_id = str(response._hidden_params.get("model_id"))
        answered_by = Deployment(
            self._groups.get(model_id, group), self._prices.get(model_id), failed, latency_ms
        )
        return result_of(response, answered_by)

    def _router_for(self, group: str, prompt_tokens: int | None) -> Any:
        if prompt_tokens is not None and prompt_tokens <= self._unchecked_max_tokens.get(group, -1):
            return self._unchecked
        return self.router

    def estimate_nano(self, group: str, prompt_tokens: int, max_tokens: int) -> int:
        """The most this call can cost: all of max_tokens, at the group's dearest deployment."""
        return self.price_of_group(group).cost_nano_usd(prompt_tokens, max_tokens)

    def price_of_group(self, group: str) -> Price:
        """The dearest deployment's price in a group: the conservative figure for estimates."""
        prices = [p for mid, p in self._prices.items() if self._groups[mid] == group]
        return max(prices, key=lambda p: p.input + p.output)


class StreamBroken(Exception):
    """A stream failed after its first piece reached the caller: nothing can take it back, so no
    fallback may answer instead (the caller gets an error after the pieces it already has)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _streamed(
    router: Any,
    group: str,
    messages: list[dict[str, str]],
    max_tokens: int,
    metadata: dict[str, Any],
    *,
    on_text: TextSink,
) -> Any:
    """A streamed call, rebuilt into one response (content and the provider's own usage) so it is
    priced exactly as the same answer unstreamed.

    LiteLLM's Router reads a stream's first chunk inside the attempt, so a deployment that fails
    before it is retried or falls back like any failed call: invisible here. A failure after text
    was handed on ends the call (LiteLLM only continues such a stream on a fallback with
    `enable_mid_stream_fallback_continuation`, off by default)."""
    stream = await router.acompletion(
        model=group,
        messages=messages,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
        metadata=metadata,
    )
    chunks: list[Any] = []
    pieces: list[str] = []
    sent = False
    try:
        async for chunk in stream:
            chunks.append(chunk)
            text = chunk.choices[0].delta.content if chunk.choices else None
            if text:
                sent = True
                pieces.append(text)
                await on_text(text)
    except Exception as exc:
        if not sent:
            raise
        first = str(exc).splitlines()[0][:400] if str(exc) else type(exc).__name__
        raise StreamBroken(f"the answer broke off after it began: {first}") from exc
    response = _assembled(chunks, pieces) or litellm.stream_chunk_builder(chunks, messages=messages)
    if response is None:
        raise LLMError("provider_error", "the provider's stream held no answer")
    response._hidden_params = {**(getattr(response, "_hidden_params", None) or {}), **stream._hidden_params}
    return response


def _assembled(chunks: list[Any], pieces: list[str]) -> Any:
    """The streamed answer as one response, from its text and the provider's own usage (sent on
    the last chunk when asked with include_usage, by OpenAI and Anthropic alike). Calling LiteLLM's
    `stream_chunk_builder` again here cost ~1 ms a stream (12% of a streaming worker's CPU; LiteLLM's
    own wrapper calls it once more for its usage chunk); it stays the way for a stream without usage."""
    usage = next((u for c in reversed(chunks) if (u := getattr(c, "usage", None)) is not None), None)
    if usage is None or not chunks:
        return None
    finish = next(
        (c.choices[0].finish_reason for c in reversed(chunks) if c.choices and c.choices[0].finish_reason),
        None,
    )
    return litellm.ModelResponse(
        id=chunks[0].id,
        model=chunks[0].model,
        choices=[
            {
                "index": 0,
                "finish_reason": finish or "stop",
                "message": {"role": "assistant", "content": "".join(pieces)},
            }
        ],
        usage=usage,
    )


@dataclass(frozen=True)
class Deployment:
    """What the gateway knows of the call that answered: its group, price, the failed attempts
    before it and how long it all took."""

    group: str
    price: Price | None
    failed: tuple[str, ...]
    latency_ms: int


def result_of(response: Any, call: Deployment) -> LLMResult:
    """LiteLLM's ModelResponse as our LLMResult, with the exact cost at the deployment's price."""
    hidden = response._hidden_params
    headers = hidden.get("additional_headers") or {}
    model = str(hidden.get("litellm_model_name") or response.model)
    usage = response.usage
    prompt_tokens = int(usage.prompt_tokens or 0)
    completion_tokens = int(usage.completion_tokens or 0)
    price = call.price or deployment_price({"model": model})
    return LLMResult(
        content=str(response.choices[0].message.content or ""),
        group=str(headers.get("x-litellm-model-group") or call.group),
        model=model,
        provider=model.split("/", 1)[0] if "/" in model else str(hidden.get("custom_llm_provider")),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_nano_usd=price.cost_nano_usd(prompt_tokens, completion_tokens),
        provider_latency_ms=call.latency_ms,
        attempted_models=(*call.failed, model),
        # Every failed attempt moved the request on: to another deployment or a fallback group.
        fallbacks=max(len(call.failed), int(headers.get("x-litellm-attempted-fallbacks") or 0)),
        retries=int(headers.get("x-litellm-attempted-retries") or 0),
    )


def failure_of(exc: Exception, failures: Sequence[FailedAttempt]) -> LLMError:
    """The error a caller sees when every deployment and fallback failed."""
    # The first failure is the cause; later ones are often just "no deployment left".
    code = failures[0].code if failures else error_code(exc)
    text = str(exc).splitlines()[0][:400] if str(exc) else type(exc).__name__
    # Capacity, not a fault, only when every attempt was turned away for rate or cooldown.
    wait = retry_after_s(exc) if all(f.code == "rate_limited" for f in failures) else None
    return LLMError(code, text, [f.model for f in failures], retry_after_s=wait)


def deployment_price(params: dict[str, Any]) -> Price:
    if not model_info(str(params["model"])) and "input_cost_per_token" not in params:
        logger.warning("model %s is not in LiteLLM's price map; its cost counts as 0", params["model"])
    return Price(*token_prices(params))


def _context_window(params: dict[str, Any], model_info_override: dict[str, Any]) -> int:
    if model_info_override.get("max_input_tokens"):
        return int(model_info_override["max_input_tokens"])
    info = model_info(str(params["model"]))
    return int(info.get("max_input_tokens") or info.get("max_tokens") or 8192)
