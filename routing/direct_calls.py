"""One attempt's provider call, made without `litellm.acompletion`'s per-call wrapper.

LiteLLM's Router runs every attempt through a host (`PythonHost.invoke("acompletion")`). In an
in-process closed loop ~90% of a bare Router's CPU per request was that call (11.0 ms a request
against 1.0 ms with a host returning a canned answer): the logging object, callback fan-out, cost
lookups and a thread hop around a provider request the pipeline could make itself.
`DirectHost` keeps the Router (deployment pick, retries, cooldowns, fallbacks, rpm/tpm counting,
all inside the Router's core) and answers the plain case of an attempt itself, with LiteLLM's own
pieces: its provider configs build the request body and headers and parse the answer, and its
exception mapping turns an HTTP failure into the same LiteLLM error the full call raises.

The plain case: a non-streamed chat call to an OpenAI or Anthropic deployment that the caller
prices itself (`PRICED_BY_CALLER` in its metadata: LiteLLM's cost is not computed here), with no
arguments beyond the Router's own bookkeeping, no response caching, and no LiteLLM callbacks that
want each call (a logging integration the operator added). Anything else goes to
`litellm.acompletion`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import aiohttp
import httpx
import litellm
from litellm import exceptions as llm_errors
from litellm.integrations.custom_logger import CustomLogger
from litellm.litellm_core_utils.exception_mapping_utils import exception_type
from litellm.litellm_core_utils.llm_response_utils.convert_dict_to_response import (
    convert_to_model_response_object,
)
from litellm.litellm_core_utils.url_utils import ensure_api_route
from litellm.llms.anthropic.common_utils import AnthropicError
from litellm.llms.openai.common_utils import OpenAIError
from litellm.router_python_host import PythonHost
from litellm.router_utils.pre_call_checks.model_rate_limit_check import ModelRateLimitingCheck
from litellm.types.utils import LlmProviders
from litellm.utils import ProviderConfigManager

from routing.litellm_trims import PRICED_BY_CALLER

# What the Router adds to an attempt's arguments, as seen with LiteLLM 1.110.2: bookkeeping that does
# not change the provider request. A key outside these and REQUEST_KEYS sends the call to LiteLLM.
ROUTER_KEYS = frozenset(
    {
        "api_key",
        "api_base",
        "allow_client_keepalive_override",
        "use_in_pass_through",
        "use_litellm_proxy",
        "use_xai_oauth",
        "merge_reasoning_content_in_choices",
        "caching",
        "client",
        "metadata",
        "stream",
        "litellm_trace_id",
        "litellm_call_id",
        "_context_compaction_state",
        "model_info",
        "timeout",
        "max_retries",
        "model",
        "max_fallbacks",
        "fallback_depth",
        "attempted_targets",
        # deployment settings the Router reads itself; LiteLLM's call drops them too
        "rpm",
        "tpm",
        "weight",
        "order",
        "max_parallel_requests",
    }
)
REQUEST_KEYS = frozenset({"messages", "max_tokens", "temperature", "top_p", "stop"})
# Router flags that, when set, ask litellm.acompletion for behaviour this path does not have.
_FLAGS_OFF = ("caching", "stream", "use_in_pass_through", "use_litellm_proxy", "use_xai_oauth")
_DEFAULT_BASES = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
_BASE_ENV = {
    "openai": ("OPENAI_API_BASE", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"),
}
HTTP_ERROR = 400
LARGE_BODY_BYTES = 2**20


@dataclass(frozen=True)
class Attempt:
    """One plain attempt: where it goes and what it sends."""

    provider: str
    model: str  # the provider's own model name, without LiteLLM's provider prefix
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    timeout_s: float


class DirectCalls:
    """`acompletion` as the Router's host calls it: plain attempts straight to the provider over
    one pooled aiohttp session, the rest through `litellm.acompletion`."""

    def __init__(self, served_callbacks: tuple[type, ...] = ()) -> None:
        # Callbacks this path keeps whole: each failed attempt goes to them here (the Router's
        # core leaves that to the call), and LiteLLM's rpm/tpm check gets each answer's tokens.
        self._served_callbacks = (*served_callbacks, ModelRateLimitingCheck)
        self._session: aiohttp.ClientSession | None = None
        self.direct = 0  # attempts this path made itself; the rest went to LiteLLM
        self.delegated = 0

    async def acompletion(self, **kwargs: Any) -> Any:
        attempt = self.plain_attempt(kwargs)
        if attempt is None:
            self.delegated += 1
            return await litellm.acompletion(**kwargs)
        self.direct += 1
        return await self._send(attempt, kwargs)

    def plain_attempt(self, kwargs: Mapping[str, Any]) -> Attempt | None:
        """The attempt as one HTTP request, or None when LiteLLM's full call must make it."""
        if not kwargs.keys() <= ROUTER_KEYS | REQUEST_KEYS or any(kwargs.get(flag) for flag in _FLAGS_OFF):
            return None
        if not (kwargs.get("metadata") or {}).get(PRICED_BY_CALLER) or self._callbacks_want_each_call():
            return None
        provider, _, model = str(kwargs.get("model", "")).partition("/")
        timeout = kwargs.get("timeout")
        if provider not in _DEFAULT_BASES or not model or not isinstance(timeout, int | float):
            return None
        params = {key: kwargs[key] for key in REQUEST_KEYS - {"messages"} if kwargs.get(key) is not None}
        config = _chat_config(provider, model)
        optional = config.map_openai_params(params, {}, model, drop_params=bool(litellm.drop_params))
        api_key = kwargs.get("api_key")
        base = _api_base(provider, kwargs.get("api_base"))
        messages = list(kwargs["messages"])
        headers = config.validate_environment(
            headers={},
            model=model,
            messages=messages,
            optional_params=optional,
            litellm_params={},
            api_key=api_key,
            api_base=base,
        )
        if provider == "openai":
            url = config.get_complete_url(
                api_base=base, api_key=api_key, model=model, optional_params=optional, litellm_params={}
            )
        else:
            url = ensure_api_route(base, "v1/messages")
        body = config.transform_request(model, messages, optional, {}, headers)
        return Attempt(provider, model, url, dict(headers), body, float(timeout))

    def _callbacks_want_each_call(self) -> bool:
        """True when a LiteLLM callback other than ours would miss calls made here."""
        lists = (
            litellm.callbacks,
            litellm.success_callback,
            litellm._async_success_callback,
            litellm.input_callback,
        )
        return any(not isinstance(cb, self._served_callbacks) for callbacks in lists for cb in callbacks)

    async def _send(self, attempt: Attempt, kwargs: Mapping[str, Any]) -> Any:
        started = time.time()
        try:
            response = await self._post(attempt, kwargs)
        except Exception as failure:
            await _report_failure(attempt, kwargs, failure, started)
            raise
        await _count_tokens(kwargs, response)
        return response

    async def _post(self, attempt: Attempt, kwargs: Mapping[str, Any]) -> Any:
        session = self._session_for_loop()
        full_model = f"{attempt.provider}/{attempt.model}"
        encoded = json.dumps(attempt.body).encode()
        try:
            async with session.post(
                attempt.url,
                # aiohttp writes a large bytes body in one go and warns; a file-like one in chunks.
                data=encoded if len(encoded) <= LARGE_BODY_BYTES else io.BytesIO(encoded),
                headers=attempt.headers,
                timeout=aiohttp.ClientTimeout(total=attempt.timeout_s),
            ) as reply:
                text = await reply.text()
                status, headers = reply.status, dict(reply.headers)
        except TimeoutError as exc:
            raise llm_errors.Timeout(
                message=f"{full_model} timed out after {attempt.timeout_s:g} s",
                model=attempt.model,
                llm_provider=attempt.provider,
            ) from exc
        except aiohttp.ClientError as exc:
            # LiteLLM's own call reports a connection failure as a 500 from the provider.
            message = "Connection error." if attempt.provider == "openai" else f"{type(exc).__name__}: {exc}"
            raise _mapped(attempt, _provider_error(attempt, 500, {}, message), kwargs) from exc
        if status >= HTTP_ERROR:
            raise _mapped(attempt, _http_failure(attempt, status, headers, text), kwargs)
        return _response(attempt, json.loads(text), status, headers, kwargs)

    def _session_for_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or session._loop is not loop:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            )
        return session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


class DirectHost(PythonHost):
    """LiteLLM's Python host with the chat attempt answered by `DirectCalls`."""

    __slots__ = ("calls",)

    def __init__(self, calls: DirectCalls) -> None:
        self.calls = calls

    def invoke(self, op: str) -> Any:
        if op == "acompletion":
            return self.calls.acompletion
        return super().invoke(op)


@cache
def _chat_config(provider: str, model: str) -> Any:
    return ProviderConfigManager.get_provider_chat_config(model, LlmProviders(provider))


def _api_base(provider: str, given: object) -> str:
    """The base URL in LiteLLM's order: the deployment's, litellm.api_base, the environment, the default."""
    if isinstance(given, str) and given:
        return given
    if litellm.api_base:
        return str(litellm.api_base)
    for name in _BASE_ENV[provider]:
        if os.environ.get(name):
            return os.environ[name]
    return _DEFAULT_BASES[provider]


def _http_failure(attempt: Attempt, status: int, headers: dict[str, str], text: str) -> Exception:
    """The provider's HTTP failure as LiteLLM's provider handler raises it."""
    if attempt.provider != "openai":
        return _provider_error(attempt, status, headers, text)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    body = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    # The message the openai SDK's status error carries, which LiteLLM's mapping reads.
    return _provider_error(attempt, status, headers, f"Error code: {status} - {body}", body)


def _provider_error(
    attempt: Attempt, status: int, headers: dict[str, str], message: str, body: object = None
) -> Exception:
    if attempt.provider == "anthropic":
        return AnthropicError(status_code=status, message=message, headers=httpx.Headers(headers))
    request = httpx.Request("POST", attempt.url)
    response = httpx.Response(status, headers=headers, request=request)
    return OpenAIError(
        status_code=status,
        message=message,
        response=response,
        headers=headers,
        body=body if isinstance(body, dict) else None,
    )


def _mapped(attempt: Attempt, raw: Exception, kwargs: Mapping[str, Any]) -> Exception:
    """`raw` through LiteLLM's exception mapping, so the Router cools down, retries and falls back
    on it exactly as on its own call's failure."""
    try:
        mapped = exception_type(  # type: ignore[no-untyped-call]
            model=attempt.model,
            original_exception=raw,
            custom_llm_provider=attempt.provider,
            completion_kwargs=dict(kwargs),
            extra_kwargs={},
        )
    except Exception as exc:  # noqa: BLE001 - LiteLLM's mapping raises the mapped error
        return exc
    return mapped if isinstance(mapped, Exception) else raw


async def _report_failure(
    attempt: Attempt, kwargs: Mapping[str, Any], failure: Exception, started: float
) -> None:
    """A failed attempt to LiteLLM's failure callbacks, as its call's logging object reports it (the
    Router's core leaves that to the call): the caller's attempt log and the rpm/tpm check."""
    event = {
        "model": attempt.model,
        "exception": failure,
        "litellm_params": {"custom_llm_provider": attempt.provider, "metadata": kwargs.get("metadata") or {}},
        "model_info": kwargs.get("model_info") or {},
    }
    for callback in list(litellm.callbacks):
        if isinstance(callback, CustomLogger):
            await callback.async_log_failure_event(event, None, started, time.time())  # type: ignore[no-untyped-call]


async def _count_tokens(kwargs: Mapping[str, Any], response: Any) -> None:
    """The answer's tokens to LiteLLM's rpm/tpm check, as its success callback reads them from
    LiteLLM's standard logging payload (the Router counts requests before the call itself)."""
    checks = [cb for cb in litellm.callbacks if isinstance(cb, ModelRateLimitingCheck)]
    if not checks:
        return
    usage = getattr(response, "usage", None)
    event = {
        "standard_logging_object": {
            "model_id": (kwargs.get("model_info") or {}).get("id"),
            "total_tokens": int(getattr(usage, "total_tokens", 0) or 0),
            "hidden_params": {"litellm_model_name": kwargs.get("model")},
        },
    }
    now = time.time()
    for check in checks:
        await check.async_log_success_event(event, response, now, now)


def _response(
    attempt: Attempt, payload: dict[str, Any], status: int, headers: dict[str, str], kwargs: Mapping[str, Any]
) -> Any:
    """The provider's answer as LiteLLM's ModelResponse, parsed by LiteLLM's own code for the provider,
    with the hidden params the Router and the gateway read."""
    if attempt.provider == "openai":
        response = convert_to_model_response_object(
            response_object=payload, model_response_object=litellm.ModelResponse()
        )
    else:
        raw = httpx.Response(status, headers=headers, request=httpx.Request("POST", attempt.url))
        response = _chat_config(attempt.provider, attempt.model).transform_parsed_response(
            completion_response=payload,
            raw_response=raw,
            model_response=litellm.ModelResponse(id=f"chatcmpl-{uuid.uuid4()}", created=int(time.time())),
        )
    model_info = kwargs.get("model_info") or {}
    response._hidden_params = {
        **(getattr(response, "_hidden_params", None) or {}),
        "additional_headers": {f"llm_provider-{name.lower()}": value for name, value in headers.items()},
        "api_base": kwargs.get("api_base"),
        "model_id": model_info.get("id"),
        "custom_llm_provider": attempt.provider,
        "litellm_model_name": f"{attempt.provider}/{attempt.model}",
        "response_cost": None,  # as LiteLLM reports a call its caller prices
    }
    return response
