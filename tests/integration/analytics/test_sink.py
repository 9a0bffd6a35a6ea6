"""The sink against real Kafka and the embedded ClickHouse engine."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from analytics.batch import IntentFile
from analytics.clickhouse import ClickHouseUnavailable
from analytics.encoded import EncodedCompletion
from analytics.sink import CompletionSink, SinkConfig
from analytics.writer import CompletionsWriter, RowWriter
from mobius.settings import MobiusSettings
from schemas.events import COMPLETION_CODEC, ReplyEvent, encode_completion
from streams.client import MobiusClient
from streams.kafka_options import client_options
from streams.topics import ensure_topics
from tests.support.analytics import produce, record
from tests.support.pipeline import (
    isolated_settings,
    read_until,
    running_pipeline,
    topic_reader,
    wait_until_serving,
)


class FlakyWriter:
    """The real writer, failing the first `failures` calls as an unreachable server would."""

    def __init__(self, inner: CompletionsWriter, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    def write(self, rows: Sequence[Sequence[Any]], token: str) -> None:
        self._maybe_fail()
        self.inner.write(rows, token)

    def write_encoded(self, records: Sequence[EncodedCompletion], token: str) -> None:
        self._maybe_fail()
        self.inner.write_encoded(records, token)

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ClickHouseUnavailable("connection refused (simulated)")


async def until_committed(sink: CompletionSink, offsets: int, timeout: float = 60) -> None:
    """Wait until the sink has committed `offsets` records' worth of offsets (read them all)."""
    async with asyncio.timeout(timeout):
        while sink.records_committed < offsets:
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(sink: CompletionSink) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        yield task
    finally:
        stop.set()
        with contextlib.suppress(RuntimeError):
            await task


async def until(client: Client, sql: str, expected: object, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while (await asyncio.to_thread(lambda: client.query(sql).result_rows[0][0])) != expected:
            await asyncio.sleep(0.1)


def totals(client: Client) -> tuple[Any, ...]:
    raw = client.query(
        "SELECT count(), sum(cost_nano_usd), sum(prompt_tokens), countIf(status = 'error'), "
        "countIf(fallback_count > 0) FROM completions"
    ).result_rows[0]
    rollup = client.query(
        "SELECT sum(requests), sum(cost_nano_usd), sum(prompt_tokens), sum(errors), "
        "sum(fallbacks) FROM completions_by_minute"
    ).result_rows[0]
    assert tuple(raw) == tuple(rollup), "the rollup disagrees with the raw table"
    return tuple(raw)


def _sink(
    settings: MobiusSettings, writer: RowWriter, intent: Path, config: SinkConfig | None = None
) -> CompletionSink:
    return CompletionSink(settings.kafka, settings.topics, writer, IntentFile(intent), config=config)


@pytest.fixture
def settings(stack_settings: MobiusSettings) -> MobiusSettings:
    isolated = isolated_settings(stack_settings)
    asyncio.run(ensure_topics(isolated.kafka, isolated.topics.all()))
    return isolated


async def test_batches_land_with_exact_sums_and_the_rollup_agrees(
    settings: MobiusSettings, database: Client, tmp_path: Path
) -> None:
    records = [record(i, cost=150 * i + 7) for i in range(250)]
    await produce(settings, records)
    sink = _sink(settings, CompletionsWriter(database), tmp_path / "i.json", SinkConfig(max_rows=100))
    async with running(sink):
        await until(database, "SELECT count() FROM completions", 250)
    count, cost, prompt, errors, fallbacks = totals(database)
    assert (count, cost) == (250, sum(r.cost_nano_usd for r in records))
    assert prompt == sum(r.prompt_tokens for r in records)
    assert errors == 25 and fallbacks == 84
    assert sink.batches_written >= 3  # bounded by size
    row = database.query("SELECT org_id, created_at FROM completions WHERE request_id = 'req-1'").result_rows[
        0
    ]
    assert row[0] == "acme" and row[1] == records[1].created_at


async def test_a_crash_between_insert_and_commit_adds_no_duplicates(
    settings: MobiusSettings, database: Client, tmp_path: Path
) -> None:
    records = [record(i, cost=1000 + i) for i in range(120)]
    await produce(settings, records)
    intent = IntentFile(tmp_path / "pending.json")
    config = SinkConfig(max_rows=50, group_id=f"sink-{uuid.uuid4().hex[:6]}")
    crashing = _sink(settings, CompletionsWriter(database), intent.path, config)

    def crash() -> None:
        raise RuntimeError("killed after the insert, before the commit")

    crashing.after_insert = crash
    with pytest.raises(RuntimeError, match="killed after the insert"):
        await crashing.run(asyncio.Event())
    inserted = database.query("SELECT count() FROM completions").result_rows[0][0]
    assert inserted == 50 and intent.read() is not None  # rows in ClickHouse, offsets not committed

    restarted = _sink(settings, CompletionsWriter(database), intent.path, config)
    async with running(restarted):
        await until(database, "SELECT count() FROM completions", 120)
        await asyncio.sleep(1.0)  # give a duplicate the chance to show up
    assert totals(database)[:2] == (120, sum(r.cost_nano_usd for r in records))
    assert database.query("SELECT count() - uniqExact(request_id) FROM completions").result_rows[0][0] == 0
    assert intent.read() is None


async def test_a_record_sent_twice_is_counted_once_in_the_table_and_the_rollup(
    settings: MobiusSettings, database: Client, tmp_path: Path
) -> None:
    """A worker killed after publishing but before committing makes the next owner re-send the
    same records: the same request, at two offsets, in one batch or in two."""
    records = [record(i, cost=100 + i) for i in range(60)]
    await produce(settings, records)
    await produce(settings, records[:10] + records[50:])  # re-sent: in a later batch
    await produce(settings, records[20:25] * 2)  # and twice more within one batch
    sink = _sink(settings, CompletionsWriter(database), tmp_path / "i.json", SinkConfig(max_rows=40))
    async with running(sink):
        await until(database, "SELECT count() FROM completions", 60)
        await until_committed(sink, 60 + 20 + 10)
    assert totals(database)[:2] == (60, sum(r.cost_nano_usd for r in records))  # rollup agrees too
    assert database.query("SELECT count() - uniqExact(request_id) FROM completions").result_rows[0][0] == 0


async def test_clickhouse_unavailable_then_back_loses_nothing(
    settings: MobiusSettings, database: Client, tmp_path: Path
) -> None:
    records = [record(i, cost=10 * i) for i in range(80)]
    await produce(settings, records)
    flaky = FlakyWriter(CompletionsWriter(database), failures=4)
    sink = _sink(settings, flaky, tmp_path / "i.json", SinkConfig(max_rows=30))
    async with running(sink):
        await until(database, "SELECT count() FROM completions", 80)
    assert flaky.calls > 4
    assert totals(database)[:2] == (80, sum(r.cost_nano_usd for r in records))


async def test_an_undecodable_record_is_dead_lettered_and_does_not_stop_the_sink(
    settings: MobiusSettings, database: Client, tmp_path: Path
) -> None:
    producer = AIOKafkaProducer(**client_options(settings.kafka))
    await producer.start()
    await producer.send_and_wait(settings.topics.completions, b"not a record")
    await producer.stop()
    await produce(settings, [record(1, cost=5)])
    sink = _sink(settings, CompletionsWriter(database), tmp_path / "i.json")
    async with running(sink), topic_reader(settings, settings.topics.dlq) as dlq:
        await until(database, "SELECT count() FROM completions", 1)
        letters = await read_until(dlq, 1)
    assert letters[0].value == b"not a record"
    assert b"undecodable completion record" in dict(letters[0].headers)["mobius.dlq.reason"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "weird"}, b"undecodable completion record: ValidationError"),
        ({"prompt_tokens": -1}, b"OutOfRange: prompt_tokens = -1 is outside the column's range"),
        ({"created_at": datetime(2200, 1, 1, tzinfo=UTC)}, b"OutOfRange: created_at = 2200-01-01"),
    ],
    ids=["status", "negative-tokens", "year-2200"],
)
async def test_a_record_clickhouse_refuses_falls_back_to_decoding_and_is_dead_lettered(
    settings: MobiusSettings, database: Client, tmp_path: Path, change: dict[str, object], reason: bytes
) -> None:
    """A framed record whose body breaks the model (a status outside ok/error) or holds a value its
    column cannot (a negative count, a year past DateTime's) reaches ClickHouse in the batch's Avro
    file; the batch is refused, decoded record by record, and the others land."""
    weird = COMPLETION_CODEC.encode({**record(3, cost=1).model_dump(), **change})
    good = [record(i, cost=100 + i) for i in range(6) if i != 3]
    producer = AIOKafkaProducer(**client_options(settings.kafka))
    await producer.start()
    for r in good[:3]:
        await producer.send_and_wait(settings.topics.completions, encode_completion(r))
    await producer.send_and_wait(settings.topics.completions, weird, key=b"req-3")
    for r in good[3:]:
        await producer.send_and_wait(settings.topics.completions, encode_completion(r))
    await producer.stop()
    sink = _sink(settings, CompletionsWriter(database), tmp_path / "i.json")
    async with running(sink), topic_reader(settings, settings.topics.dlq) as dlq:
        await until(database, "SELECT count() FROM completions", len(good))
        letters = await read_until(dlq, 1)
        await until_committed(sink, len(good) + 1)
    assert totals(database)[:2] == (len(good), sum(r.cost_nano_usd for r in good))
    assert letters[0].value == weird and letters[0].key == b"req-3"
    assert reason in dict(letters[0].headers)["mobius.dlq.reason"]


def test_a_real_pipeline_run_lands_with_exact_cost_sums(
    stack_settings: MobiusSettings, database: Client, tmp_path: Path
) -> None:
    with running_pipeline(stack_settings) as pipeline:

        async def ask_and_sink() -> list[ReplyEvent]:
            async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
                await wait_until_serving(client)
                questions = [
                    ("What is the capital of Peru?", "free"),
                    ("Write a python function that reverses a string", "pro"),
                    (
                        "Prove that the square root of 2 is irrational; does the proof work for 4?",
                        "enterprise",
                    ),
                ] * 10
                replies = await asyncio.gather(
                    *(
                        client.ask([{"role": "user", "content": q}], user_id=f"u{i}", tier=t, timeout=60)  # type: ignore[arg-type]
                        for i, (q, t) in enumerate(questions)
                    )
                )
            sink = _sink(pipeline.settings, CompletionsWriter(database), tmp_path / "p.json")
            async with running(sink):
                await until(
                    database, "SELECT count() FROM completions WHERE user_id != 'warmup'", len(replies)
                )
            return replies

        replies = asyncio.run(ask_and_sink())
    cost = database.query("SELECT sum(cost_nano_usd) FROM completions WHERE user_id != 'warmup'").result_rows[
        0
    ][0]
    assert cost == sum(r.cost_nano_usd for r in replies) > 0
    explained = database.query(
        "SELECT countIf(route_cause = 'model'"
        " AND abs(p_simple + p_complex + p_code + p_long_context - 1) < 0.01), count()"
        " FROM completions WHERE user_id != 'warmup'"
    ).result_rows[0]
    assert explained[0] == explained[1] == len(replies)  # every row carries its cause and probabilities
    groups = {row[0] for row in database.query("SELECT DISTINCT model_group FROM completions").result_rows}
    assert groups >= {"fast", "code", "smart"}
    totals(database)
