from datetime import UTC, datetime

from schemas.events import ReplyChunk
from streams.chunk_order import ChunkOrder

AT = datetime(2026, 12, 7, tzinfo=UTC)


def _chunk(stream: str, sequence: int) -> ReplyChunk:
    return ReplyChunk(request_id="r", stream_id=stream, sequence=sequence, text="x", sent_at=AT)


def test_chunks_are_shown_in_order_and_once() -> None:
    order = ChunkOrder()
    seen = [c for c in (_chunk("a", 0), _chunk("a", 1), _chunk("a", 1), _chunk("a", 2)) if order.admits(c)]
    assert [c.sequence for c in seen] == [0, 1, 2]


def test_a_redelivery_restarts_at_its_sequence_zero_and_the_old_stream_is_dropped() -> None:
    order = ChunkOrder()
    assert order.admits(_chunk("a", 0)) and order.admits(_chunk("a", 1))
    assert not order.admits(_chunk("b", 1))  # a new stream is joined at its start only
    restart = _chunk("b", 0)
    assert order.admits(restart) and order.restarted(restart)
    assert not order.admits(_chunk("a", 2))  # the stale worker's stream, still going
    assert order.admits(_chunk("b", 1))
