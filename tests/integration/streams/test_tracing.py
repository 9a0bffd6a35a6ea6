"""A trace id links a query's reply, its completion record and its ClickHouse row: a real broker,
a worker process, the sink writing to the embedded engine."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan

from analytics.query import run_sql
from infra.ports import pick_free_port
from mobius.fleet import SinkProcess
from mobius.settings import MobiusSettings
from schemas.events import QueryEvent, ReplyEvent, decode_completion, encode_query, now_utc
from streams.client import MobiusClient
from streams.tracing import context_from
from tests.support.pipeline import read_until, running_pipeline, topic_reader, wait_until_serving

CALLER_TRACE = uuid.uuid4().hex
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


def _trace_of(headers: object) -> str:
    found = dict(headers)  # type: ignore[call-overload]
    return str(found["traceparent"].decode().split("-")[1])


async def _ask_raw(client: MobiusClient, request_id: str, headers: list[tuple[str, bytes]]) -> ReplyEvent:
    query = QueryEvent(
        request_id=request_id,
        created_at=now_utc(),
        user_id="u-raw",
        tier="pro",
        messages=({"role": "user", "content": "hello there"},),  # type: ignore[arg-type]
        reply_to=client.reply_topic,
    )
    future = client.expect(request_id)
    await client.publish_raw(encode_query(query), key=b"u-raw", headers=headers)
    return await client.wait(request_id, future, 60)


def test_a_trace_id_links_the_reply_the_completion_record_and_the_row(
    stack_settings: MobiusSettings, tmp_path: Path
) -> None:
    with running_pipeline(stack_settings) as pipeline:
        settings = pipeline.settings
        sink_settings = settings.model_copy(
            update={
                "clickhouse_dsn": f"chdb://{tmp_path / 'clickhouse'}",
                "analytics_query_port": pick_free_port(),
                "state_dir": tmp_path / "sink-state",
            }
        )
        sink = SinkProcess(sink_settings)
        sink.start()
        try:

            async def run() -> tuple[ReplyEvent, ReplyEvent, ReplyEvent, dict[str, tuple[str, str]]]:
                async with MobiusClient(settings.kafka, settings.topics) as client:
                    await wait_until_serving(client)
                    caller = trace.get_current_span(context_from([("traceparent", CALLER.encode())]))
                    with trace.use_span(NonRecordingSpan(caller.get_span_context())):
                        traced = await client.ask(
                            [{"role": "user", "content": "What is 2 + 2?"}], user_id="u-t", tier="pro"
                        )
                    bare = await _ask_raw(client, "bare-" + uuid.uuid4().hex, [])
                    bad = await _ask_raw(
                        client, "bad-" + uuid.uuid4().hex, [("traceparent", b"\xffnonsense")]
                    )
                async with topic_reader(settings, settings.topics.completions) as reader:
                    records = await read_until(reader, 4)  # the warm-up's too
                by_request = {}
                for r in records:
                    record = decode_completion(r.value or b"")
                    by_request[record.request_id] = (record.trace_id, _trace_of(r.headers))
                return traced, bare, bad, by_request

            traced, bare, bad, records = asyncio.run(run())
            assert traced.status == "ok" and traced.trace_id == CALLER_TRACE
            assert records[traced.request_id] == (CALLER_TRACE, CALLER_TRACE)
            for started in (bare, bad):  # no usable traceparent: the worker started a trace
                assert started.status == "ok" and len(started.trace_id) == 32
                assert started.trace_id not in ("0" * 32, CALLER_TRACE)
                assert records[started.request_id] == (started.trace_id, started.trace_id)
            assert bare.trace_id != bad.trace_id
            sql = "SELECT request_id, trace_id FROM completions WHERE trace_id = {t:String}"
            deadline = time.monotonic() + 60
            while not (rows := run_sql(sink_settings.clickhouse, sql, {"t": CALLER_TRACE}).rows):
                assert time.monotonic() < deadline, "the sink wrote the traced row within 60 s"
                time.sleep(0.3)
            assert rows == ((traced.request_id, CALLER_TRACE),)
        finally:
            assert sink.stop()
