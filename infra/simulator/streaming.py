"""Streamed answers in the providers' real server-sent-event formats.

OpenAI: `data: {chat.completion.chunk}` lines, a last chunk with `usage` (and no choices) when the
request asked for `stream_options.include_usage`, then `data: [DONE]`. Anthropic: `message_start`
(with the input tokens), `content_block_start`, a `content_block_delta` per piece,
`content_block_stop`, `message_delta` (stop reason and output tokens), `message_stop`.

The first piece comes `ttft_s` after the request, the rest at the answer's pace (the same total
latency as the answer unstreamed). A stream may be cut after some pieces
(`Controls.stream_cut_after`): the connection drops mid-answer, as a provider's does when it fails
after the first token.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from infra.simulator.behaviour import Controls, Outcome, piece_delay_s, stream_pieces

Piece = Callable[[str, int], Awaitable[None]]
TTFT_KEPT = 10_000  # the simulator's own times to first token: the latest this many


class StreamCut(ConnectionResetError):
    """The simulated provider dropped the stream mid-answer (aiohttp closes the connection)."""


class SimStream:
    """One streamed answer: its timing, where it may be cut, and the TTFT it measured."""

    def __init__(self, outcome: Outcome, model: str, provider: str, controls: Controls, ttfts: deque[float]):
        self.outcome = outcome
        self.model = model
        self.cut_after = controls.stream_cut_after.get(model, controls.stream_cut_after.get(provider))
        self.controls = controls
        self.ttfts = ttfts
        self.started = time.monotonic()

    async def pieces(self, send: Piece) -> None:
        pieces = stream_pieces(self.outcome.text)
        delay = piece_delay_s(self.outcome, len(pieces), self.controls)
        await asyncio.sleep(max(0.0, self.outcome.ttft_s - (time.monotonic() - self.started)))
        for index, text in enumerate(pieces):
            if self.cut_after is not None and index >= self.cut_after:
                raise StreamCut(f"{self.model}: stream cut after {index} pieces (simulated)")
            if index:
                await asyncio.sleep(delay)
            await send(text, index)
            if index == 0:
                self.ttfts.append((time.monotonic() - self.started) * 1000)


async def _sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    return response


async def openai_stream(request: web.Request, stream: SimStream, include_usage: bool) -> web.StreamResponse:
    outcome, model = stream.outcome, stream.model
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    response = await _sse(request)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mobius_sim",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    async def send(data: dict[str, Any] | str) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        await response.write(f"data: {text}\n\n".encode())

    async def piece(text: str, index: int) -> None:
        await send(chunk({"role": "assistant", "content": text} if index == 0 else {"content": text}))

    await stream.pieces(piece)
    await send(chunk({}, "stop"))
    if include_usage:
        usage = {
            "prompt_tokens": outcome.prompt_tokens,
            "completion_tokens": outcome.completion_tokens,
            "total_tokens": outcome.prompt_tokens + outcome.completion_tokens,
        }
        await send({**chunk({}), "choices": [], "usage": usage})
    await send("[DONE]")
    await response.write_eof()
    return response


async def anthropic_stream(request: web.Request, stream: SimStream) -> web.StreamResponse:
    outcome = stream.outcome
    response = await _sse(request)

    async def event(kind: str, data: dict[str, Any]) -> None:
        await response.write(f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode())

    message: dict[str, Any] = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": stream.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": outcome.prompt_tokens, "output_tokens": 1},
    }
    await event("message_start", {"message": message})
    await event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})

    async def piece(text: str, index: int) -> None:
        await event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}})

    await stream.pieces(piece)
    await event("content_block_stop", {"index": 0})
    await event(
        "message_delta",
        {
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": outcome.completion_tokens},
        },
    )
    await event("message_stop", {})
    await response.write_eof()
    return response
