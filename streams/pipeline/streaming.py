"""A streamed reply's pieces as ReplyChunk records, handed to the agent as they arrive.

The pipeline gets a `ChunkSink` from the agent with each query: chunks go out during the call,
while the final reply and completion record stay on the pipeline's return path (published, then
acked). Each attempt at a query streams under a stream_id of its own from sequence 0, so a
redelivery after a crash starts a new stream the client can tell from the old one.
"""

from __future__ import annotations

import re
import uuid

from schemas.events import QueryEvent, ReplyChunk, encode_chunk, now_utc
from streams.outgoing import Outgoing
from streams.pipeline.ports import ChunkSink

REPLAY_PIECE = re.compile(r"\s*\S+\s*|\s+")  # a word with the whitespace around it


class ChunkWriter:
    """Numbers the pieces of one query's answer and hands them to the sink as ReplyChunks."""

    def __init__(self, query: QueryEvent, sink: ChunkSink) -> None:
        self.query = query
        self.sink = sink
        self.stream_id = uuid.uuid4().hex
        self.sent = 0

    async def text(self, piece: str) -> None:
        chunk = ReplyChunk(
            request_id=self.query.request_id,
            stream_id=self.stream_id,
            sequence=self.sent,
            text=piece,
            sent_at=now_utc(),
        )
        self.sent += 1
        await self.sink(Outgoing(self.query.reply_to, self.query.request_id.encode(), encode_chunk(chunk)))

    async def replay(self, content: str | None) -> None:
        """An answer known whole (a cache hit, a reply re-sent), streamed word by word."""
        for piece in REPLAY_PIECE.findall(content or ""):
            await self.text(piece)
