"""Streamed replies through the pipeline with in-memory fakes: chunks in order during the call,
then the final reply; a broken stream, a cache hit and a redelivery."""

from __future__ import annotations

from schemas.events import ReplyEvent, decode_reply, encode_query
from streams.config import TopicNames
from streams.outgoing import Outgoing
from streams.pipeline.route_pipeline import RoutePipeline
from tests.support.events import QUERY
from tests.support.fakes import FakeCompleter, MemoryReplyStore, MemoryResponseCache
from tests.support.route_pipelines import RecordingChunkSink, fake_pipeline

TOPICS = TopicNames()
STREAMED = QUERY.model_copy(update={"stream": True})


def _pipeline(
    llm: FakeCompleter,
    cache: MemoryResponseCache | None = None,
    store: MemoryReplyStore | None = None,
    interval_s: float = 0.0,
) -> RoutePipeline:
    # Every piece its own chunk unless a test says otherwise (coalescing: test_chunk_writer.py).
    return fake_pipeline(llm, cache=cache, replies=store, chunk_interval_s=interval_s)


def _reply(out: list[Outgoing]) -> ReplyEvent:
    return decode_reply(next(o for o in out if o.topic == "mobius.replies").value)


async def test_a_streamed_query_sends_numbered_chunks_then_a_reply_of_their_text() -> None:
    sink = RecordingChunkSink()
    out = await _pipeline(FakeCompleter()).handle(encode_query(STREAMED), "q[0]@1", chunks=sink)
    chunks = sink.chunks()
    assert [c.sequence for c in chunks] == [0, 1, 2] and len({c.stream_id for c in chunks}) == 1
    assert all(r.topic == "mobius.replies" and r.key == b"r-1" for r in sink.records)
    reply = _reply(out)
    assert reply.status == "ok" and "".join(c.text for c in chunks) == reply.content == "answer from fast"


async def test_a_query_not_asking_for_a_stream_sends_no_chunks() -> None:
    sink = RecordingChunkSink()
    out = await _pipeline(FakeCompleter()).handle(encode_query(QUERY), "q[0]@1", chunks=sink)
    assert sink.records == [] and _reply(out).content == "answer from fast"


async def test_a_stream_broken_after_its_first_pieces_ends_with_an_error_reply() -> None:
    sink = RecordingChunkSink()
    llm = FakeCompleter(pieces_before_failure=("answer ", "fr"))
    out = await _pipeline(llm).handle(encode_query(STREAMED), "q[0]@1", chunks=sink)
    assert [c.text for c in sink.chunks()] == ["answer ", "fr"]
    reply = _reply(out)
    assert (reply.status, reply.error_code) == ("error", "stream_interrupted")


async def test_a_cache_hit_streams_the_cached_text() -> None:
    llm, cache = FakeCompleter(), MemoryResponseCache()
    pipeline = _pipeline(llm, cache)
    await pipeline.handle(encode_query(QUERY))
    sink = RecordingChunkSink()
    out = await pipeline.handle(
        encode_query(STREAMED.model_copy(update={"request_id": "r-2"})), "", chunks=sink
    )
    reply = _reply(out)
    assert len(llm.calls) == 1 and reply.cache_hit
    assert "".join(c.text for c in sink.chunks()) == reply.content == "answer from fast"


async def test_a_redelivered_streamed_query_streams_again_under_a_new_stream_id() -> None:
    llm, store = FakeCompleter(), MemoryReplyStore()
    pipeline = _pipeline(llm, store=store)
    first, again = RecordingChunkSink(), RecordingChunkSink()
    await pipeline.handle(encode_query(STREAMED), "", chunks=first)
    out = await pipeline.handle(encode_query(STREAMED), "", chunks=again)
    assert len(llm.calls) == 1
    assert "".join(c.text for c in again.chunks()) == _reply(out).content
    assert again.chunks()[0].sequence == 0
    assert again.chunks()[0].stream_id != first.chunks()[0].stream_id


async def test_pieces_held_by_coalescing_go_out_before_the_reply() -> None:
    sink = RecordingChunkSink()
    out = await _pipeline(FakeCompleter(), interval_s=60.0).handle(encode_query(STREAMED), "", chunks=sink)
    reply = _reply(out)
    assert sink.texts() == ["answer ", "from fast"]  # the first piece at once, the rest when it ended
    assert "".join(sink.texts()) == reply.content


async def test_a_broken_stream_still_sends_the_pieces_it_held() -> None:
    sink = RecordingChunkSink()
    llm = FakeCompleter(pieces_before_failure=("answer ", "fr", "om"))
    out = await _pipeline(llm, interval_s=60.0).handle(encode_query(STREAMED), "", chunks=sink)
    assert sink.texts() == ["answer ", "from"]
    assert _reply(out).error_code == "stream_interrupted"
