"""The simulator's HTTP face: the providers' real request and error formats.

POST /v1/chat/completions   OpenAI chat completions, streamed on `stream: true` (Bearer key required)
POST /v1/messages           Anthropic messages, streamed on `stream: true` (x-api-key required)
GET  /_sim/stats            requests per model and outcome, each stream's time to first piece
POST /_sim/controls         outages, error rates, rpm limits, latency (JSON, see Controls)
POST /_sim/reset            clear stats and controls
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, deque
from typing import Any

from aiohttp import web

from infra.simulator.behaviour import Controls, Outcome, RateWindow, decide, profile
from infra.simulator.streaming import TTFT_KEPT, SimStream, anthropic_stream, openai_stream

CONTROLS = web.AppKey("controls", Controls)
RATES = web.AppKey("rates", RateWindow)
STATS = web.AppKey("stats", Counter)
TTFTS = web.AppKey("ttfts", deque[float])


def make_app(controls: Controls | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[CONTROLS] = controls or Controls()
    app[RATES] = RateWindow()
    app[STATS] = Counter()
    app[TTFTS] = deque(maxlen=TTFT_KEPT)
    app.router.add_post("/v1/chat/completions", openai_chat)
    app.router.add_post("/v1/messages", anthropic_messages)
    app.router.add_get("/_sim/stats", stats)
    app.router.add_post("/_sim/controls", set_controls)
    app.router.add_post("/_sim/reset", reset)
    app.router.add_get("/health", health)
    return app


async def _run(
    request: web.Request, model: str, texts: list[str], max_tokens: int | None, streamed: bool = False
) -> Outcome:
    outcome = decide(
        model,
        texts,
        max_tokens,
        controls=request.app[CONTROLS],
        rates=request.app[RATES],
        roll=random.random(),  # noqa: S311 - a simulated error rate, not security
    )
    request.app[STATS][f"{model}|{outcome.kind}"] += 1
    if outcome.kind == "ok" and not streamed:  # a stream takes its time piece by piece
        await asyncio.sleep(outcome.latency_s)
    return outcome


def _stream(request: web.Request, outcome: Outcome, model: str) -> SimStream:
    prof = profile(model)
    provider = prof.provider if prof else ""
    return SimStream(outcome, model, provider, request.app[CONTROLS], request.app[TTFTS])


def _texts_openai(body: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):  # content parts
            texts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        elif content is not None:
            texts.append(str(content))
    return texts


async def openai_chat(request: web.Request) -> web.StreamResponse:
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return _openai_error(401, "You didn't provide an API key.", "invalid_request_error", None)
    body = await request.json()
    model = str(body.get("model", ""))
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    streamed = bool(body.get("stream"))
    outcome = await _run(request, model, _texts_openai(body), max_tokens, streamed)
    if outcome.kind != "ok":
        return _openai_failure(outcome, model)
    if streamed:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await openai_stream(request, _stream(request, outcome, model), include_usage)
    return web.json_response(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": outcome.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": outcome.prompt_tokens,
                "completion_tokens": outcome.completion_tokens,
                "total_tokens": outcome.prompt_tokens + outcome.completion_tokens,
            },
            "system_fingerprint": "fp_mobius_sim",
        }
    )


def _openai_error(status: int, message: str, kind: str, code: str | None, **headers: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _openai_failure(outcome: Outcome, model: str) -> web.Response:
    match outcome.kind:
        case "context_window":
            return _openai_error(
                400,
                f"This model's maximum context length is {outcome.detail} tokens. However, your messages "
                f"resulted in {outcome.prompt_tokens} tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
            )
        case "content_policy":
            return _openai_error(
                400,
                "Invalid prompt: your prompt was flagged as potentially violating our usage policy. "
                "Please try again with a different prompt.",
                "invalid_request_error",
                "invalid_prompt",
            )
        case "rate_limited":
            return _openai_error(
                429,
                f"Rate limit reached for {model} on requests per min (RPM). Please try again in "
                f"{outcome.retry_after_s}s.",
                "requests",
                "rate_limit_exceeded",
                **{"retry-after": str(outcome.retry_after_s)},
            )
        case "outage":
            return _openai_error(503, "The server is overloaded or not ready yet.", "server_error", None)
        case "unknown_model":
            return _openai_error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        case _:
            return _openai_error(
                500, "The server had an error while processing your request.", "server_error", None
            )


def _texts_anthropic(body: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        texts.append(system)
    elif isinstance(system, list):
        texts.extend(str(p.get("text", "")) for p in system if isinstance(p, dict))
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            texts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        elif content is not None:
            texts.append(str(content))
    return texts


async def anthropic_messages(request: web.Request) -> web.StreamResponse:
    if not request.headers.get("x-api-key"):
        return _anthropic_error(401, "authentication_error", "x-api-key header is required")
    body = await request.json()
    model = str(body.get("model", ""))
    streamed = bool(body.get("stream"))
    outcome = await _run(request, model, _texts_anthropic(body), body.get("max_tokens"), streamed)
    if outcome.kind != "ok":
        return _anthropic_failure(outcome, model)
    if streamed:
        return await anthropic_stream(request, _stream(request, outcome, model))
    return web.json_response(
        {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": outcome.text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": outcome.prompt_tokens, "output_tokens": outcome.completion_tokens},
        }
    )


def _anthropic_error(status: int, kind: str, message: str, **headers: str) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def _anthropic_failure(outcome: Outcome, model: str) -> web.Response:
    match outcome.kind:
        case "context_window":
            return _anthropic_error(
                400,
                "invalid_request_error",
                f"prompt is too long: {outcome.prompt_tokens} tokens > {outcome.detail} maximum",
            )
        case "content_policy":
            return _anthropic_error(
                400, "invalid_request_error", "Output blocked by content filtering policy"
            )
        case "rate_limited":
            return _anthropic_error(
                429,
                "rate_limit_error",
                f"Number of requests has exceeded your per-minute rate limit for {model}",
                **{"retry-after": str(outcome.retry_after_s)},
            )
        case "outage":
            return _anthropic_error(529, "overloaded_error", "Overloaded")
        case "unknown_model":
            return _anthropic_error(404, "not_found_error", f"model: {model}")
        case _:
            return _anthropic_error(500, "api_error", "Internal server error")


async def health(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def stats(request: web.Request) -> web.Response:
    ttfts: deque[float] = request.app[TTFTS]
    counts: dict[str, dict[str, int]] = {}
    for key, count in request.app[STATS].items():
        model, kind = key.split("|", 1)
        counts.setdefault(model, {})[kind] = count
    return web.json_response(
        {
            "requests": counts,
            "controls": request.app[CONTROLS].as_dict(),
            "stream_ttft_ms": list(ttfts),  # request in -> first piece out, per stream
        }
    )


async def set_controls(request: web.Request) -> web.Response:
    request.app[CONTROLS].update(await request.json())
    return web.json_response(request.app[CONTROLS].as_dict())


async def reset(request: web.Request) -> web.Response:
    request.app[STATS].clear()
    request.app[TTFTS].clear()
    request.app[CONTROLS].reset()
    request.app[RATES].reset()
    return web.json_response({"ok": True})
