"""Coalescing a stream's pieces: the first at once, then one chunk per interval, the rest on flush."""

from __future__ import annotations

from streams.pipeline.streaming import ChunkWriter
from tests.support.events import QUERY
from tests.support.route_pipelines import RecordingChunkSink


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_first_piece_goes_at_once_and_later_ones_join_until_the_interval_passes() -> None:
    clock, sink = Clock(), RecordingChunkSink()
    writer = ChunkWriter(QUERY, sink, interval_s=0.05, clock=clock)
    await writer.text("The ")
    assert sink.texts() == ["The "]  # time to first token is not held back
    for piece, at in (("sky ", 100.01), ("is ", 100.03), ("blue ", 100.06), ("at ", 100.07)):
        clock.now = at
        await writer.text(piece)
    assert sink.texts() == ["The ", "sky is blue "]
    await writer.flush()
    await writer.flush()  # nothing held: nothing sent
    assert sink.texts() == ["The ", "sky is blue ", "at "]
    assert [c.sequence for c in sink.chunks()] == [0, 1, 2]


async def test_an_interval_of_zero_sends_every_piece() -> None:
    sink = RecordingChunkSink()
    writer = ChunkWriter(QUERY, sink, interval_s=0.0, clock=Clock())
    for piece in ("a ", "b ", "c"):
        await writer.text(piece)
    assert sink.texts() == ["a ", "b ", "c"]


async def test_a_replayed_answer_is_its_first_word_then_the_rest_in_one_chunk() -> None:
    sink = RecordingChunkSink()
    await ChunkWriter(QUERY, sink, clock=Clock()).replay("Paris is the capital of France.")
    assert sink.texts() == ["Paris ", "is the capital of France."]
