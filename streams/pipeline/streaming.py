"""A streamed reply's pieces as ReplyChunk records, handed to the agent as they arrive.

The pipeline gets a `ChunkSink` from the agent with each query: chunks go out during the call,
while the final reply and completion record stay on the pipeline's return path (published, then
acked). Each attempt at a query streams under a stream_id of its own from sequence 0, so a
redelivery after a crash starts a new stream the client can tell from the old one.

Pieces are coalesced: the first goes out at once (it is the time to first token); later ones are
held and go out with the first piece that arrives `interval_s` or more after the last chunk, so a
provider sending a token every few milliseconds costs a Kafka record every `interval_s`, not one
per token. There is no timer: if the provider pauses mid-answer, what is held waits for its next
piece (or the end). Each record costs the
worker a produce request and the caller a fetch; per token they made streaming ~7x dearer in CPU
than an unstreamed answer and saturated a worker at 20 streams/s. Whatever is still held when the
answer ends (or breaks) goes out in `flush`, before the final reply.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from schemas.events import QueryEvent, ReplyChunk, encode_chunk, now_utc
from streams.outgoing import Outgoing
from streams.pipeline.ports import ChunkSink

REPLAY_PIECE = re.compile(r"\s*\S+\s*|\s+")  # a word with the whitespace around it
CHUNK_INTERVAL_S = 0.05  # below what a reader notices; a provider sends a token every 10-50 ms


class ChunkWriter:
    """Numbers the pieces of one query's answer and hands them to the sink as ReplyChunks."""

    def __init__(
        self,
        query: QueryEvent,
        sink: ChunkSink,
        interval_s: float = CHUNK_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.query = query
        self.sink = sink
        self.interval_s = interval_s
        self.clock = clock
        self.stream_id = uuid.uuid4().hex
        self.sent = 0
        self.held: list[str] = []
        self.last_sent_at: float | None = None

    async def text(self, piece: str) -> None:
        self.held.append(piece)
        if self.last_sent_at is None or self.clock() - self.last_sent_at >= self.interval_s:
            await self.flush()

    async def flush(self) -> None:
        """Send what is held as one chunk (nothing held: nothing sent)."""
        if not self.held:
            return
        chunk = ReplyChunk(
            request_id=self.query.request_id,
            stream_id=self.stream_id,
            sequence=self.sent,
            text="".join(self.held),
            sent_at=now_utc(),
        )
        self.held.clear()
        self.sent += 1
        self.last_sent_at = self.clock()
        await self.sink(Outgoing(self.query.reply_to, self.query.request_id.encode(), encode_chunk(chunk)))

    async def replay(self, content: str | None) -> None:
        """An answer known whole (a cache hit, a reply re-sent): its first word, then the rest."""
        for piece in REPLAY_PIECE.findall(content or ""):
            await self.text(piece)
        await self.flush()
