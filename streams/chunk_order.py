"""Which of a streamed reply's chunks a reader shows (pure): in order, once, from the latest stream.

Chunks of one stream_id arrive in order on one partition, but a redelivered query streams again
under a new stream_id from sequence 0 (after a worker crash, or beside a worker that lost its
partition and has not noticed yet). So a reader keeps the stream it follows, takes the next
sequence only, and moves to a new stream_id only at its sequence 0 (a restart: what was shown of
the old one is void); chunks of a stream it left are dropped for good.
"""

from __future__ import annotations

from schemas.events import ReplyChunk


class ChunkOrder:
    """Decides, chunk by chunk, whether it continues (or restarts) the stream being shown."""

    def __init__(self) -> None:
        self.stream_id: str | None = None
        self.next_sequence = 0
        self._left: set[str] = set()

    def admits(self, chunk: ReplyChunk) -> bool:
        if chunk.stream_id != self.stream_id:
            if chunk.sequence != 0 or chunk.stream_id in self._left:
                return False
            if self.stream_id is not None:
                self._left.add(self.stream_id)
            self.stream_id, self.next_sequence = chunk.stream_id, 0
        if chunk.sequence != self.next_sequence:
            return False  # a duplicate (or a gap Kafka's order rules out)
        self.next_sequence += 1
        return True

    def restarted(self, chunk: ReplyChunk) -> bool:
        """Whether an admitted chunk began a stream after another one had begun."""
        return chunk.sequence == 0 and bool(self._left)
