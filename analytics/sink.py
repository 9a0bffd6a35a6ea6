"""The analytics sink: mobius.completions -> batched, idempotent inserts into ClickHouse.

Batches close at `max_rows` or after `max_wait_s`. Offsets are committed only after ClickHouse
acknowledged the insert; a batch interrupted between the two is replayed at start from its intent
file with the same deduplication token (see analytics/batch.py). While ClickHouse is unavailable the
sink retries with backoff and reads nothing more; Kafka keeps the records.

With the embedded engine one sink reads every partition of the topic (assigned, not subscribed):
only one process may own the data path anyway, and a fixed assignment keeps the replay exact.
With a ClickHouse server, sinks share the partitions in a consumer group (analytics/group_sink.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from analytics.batch import Batch, IntentFile, PendingBatch
from analytics.clickhouse import ClickHouseUnavailable
from analytics.encoded import EncodedCompletion, fallback_token, oldest_timestamp_ms, read_encoded
from analytics.metrics import (
    SINK_BATCH_ROWS,
    SINK_DEAD_LETTERS,
    SINK_FRESHNESS_SECONDS,
    SINK_INSERT_SECONDS,
    SINK_ROWS,
)
from analytics.rows import OutOfRange, completion_row
from analytics.writer import RejectedBatch, RowWriter
from schemas.codec import DecodeError
from schemas.events import decode_completion
from schemas.vocabulary import DLQ_REASON, DLQ_SOURCE
from streams.config import KafkaConfig, TopicNames
from streams.kafka_access import start_client
from streams.kafka_options import client_options
from streams.lag import report_lag
from streams.retrying import until_done
from streams.topics import topic_partitions

logger = logging.getLogger("mobius.analytics.sink")
LAG_INTERVAL_S = 2.0
SINK_GROUP = "mobius-analytics-sink"
T = TypeVar("T")


@dataclass(frozen=True)
class SinkConfig:
    """How big and how old a batch may grow, and the consumer group whose offsets the sink commits
    (in server mode also the group the sinks share the partitions in, with its session timeout)."""

    max_rows: int = 20000
    max_wait_s: float = 0.5
    group_id: str = SINK_GROUP
    session_timeout_s: float = 10.0


@contextlib.contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """The objects alive once the sink has started (modules, schemas, clients) kept out of the
    garbage collector's passes while it runs, and the youngest generation collected every 50,000
    allocations rather than 700. A backlog makes ~3 objects a record that live until the batch is
    written: full collections came often and walked the whole heap (~250 ms of a 100k-row drain),
    and young ones kept re-walking a fetch's records (~50 ms); now ~15 ms in all."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class SinkCore:
    """What every sink shares: its Kafka clients, framing (or dead-lettering), the retried insert.

    A record is kept as its Avro body (analytics/encoded.py): the frame and the request id are read
    as it arrives, a record without a known frame is dead-lettered at once, and ClickHouse decodes
    the rest. A batch ClickHouse refuses is decoded here record by record (today's slow path),
    so a bad record still becomes a dead letter with its reason and the others still land."""

    def __init__(
        self,
        kafka: KafkaConfig,
        topics: TopicNames,
        writer: RowWriter,
        *,
        config: SinkConfig | None = None,
    ) -> None:
        self.kafka = kafka
        self.topics = topics
        self.topic = topics.completions
        self.writer = writer
        self.config = config or SinkConfig()
        self.db_lock = threading.Lock()  # the flush thread and the commit path share one session
        self.rows_written = 0
        self.batches_written = 0
        self.records_committed = 0  # offsets committed: records read, written or skipped as repeats
        options = client_options(kafka)
        self._consumer = AIOKafkaConsumer(
            **options,
            group_id=self.config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=kafka.max_message_bytes,
            session_timeout_ms=int(self.config.session_timeout_s * 1000),
            heartbeat_interval_ms=max(100, int(self.config.session_timeout_s * 1000 / 3)),
        )
        self._producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all")
        # Test hook: called between the insert and the commit (where a crash hurts most).
        self.after_insert: Callable[[], None] | None = None
        self._lag_measured_at = 0.0

    async def report_lag_now_and_then(self) -> None:
        """The sink's own consumer lag (streams.lag), measured from its fetch loop every 2 s."""
        if time.monotonic() - self._lag_measured_at >= LAG_INTERVAL_S:
            self._lag_measured_at = time.monotonic()
            await report_lag(self._consumer)

    async def run(self, stop: asyncio.Event) -> None:
        """Read, batch and write until `stop` is set."""
        raise NotImplementedError

    async def _admit(self, record: ConsumerRecord[bytes, bytes]) -> EncodedCompletion | None:
        """The record, framed and named by its request id; None once it is dead-lettered."""
        admitted = await self._admit_all([record])
        return admitted[0] if admitted else None

    async def _admit_all(self, records: list[ConsumerRecord[bytes, bytes]]) -> list[EncodedCompletion]:
        """The records that frame, in order; the others are dead-lettered. One plain loop, no await a
        record: at 100k rows/s a coroutine per record was a tenth of the time a row may take."""
        admitted: list[EncodedCompletion] = []
        refused: list[tuple[ConsumerRecord[bytes, bytes], DecodeError]] = []
        for record in records:
            try:
                admitted.append(
                    read_encoded(
                        record.partition, record.offset, record.timestamp, record.key, record.value or b""
                    )
                )
            except DecodeError as exc:
                refused.append((record, exc))
        for record, error in refused:
            source = f"{record.topic}[{record.partition}]@{record.offset}"
            await self._dead_letter(source, record.key, record.value or b"", error)
        return admitted

    async def _dead_letter(self, source: str, key: bytes | None, value: bytes, exc: Exception) -> None:
        """Never stops the sink, never silently dropped: the record goes to the DLQ with the reason."""
        reason = f"undecodable completion record: {type(exc).__name__}: {exc}"
        SINK_DEAD_LETTERS.inc()
        logger.warning("%s at %s", reason, source)
        headers = [(DLQ_REASON, reason.encode()), (DLQ_SOURCE, source.encode())]
        await self._producer.send_and_wait(self.topics.dlq, value, key=key, headers=headers)

    async def _write_until_done(self, records: list[EncodedCompletion], token: str) -> None:
        """Insert, retrying while ClickHouse is away (Kafka keeps the records meanwhile); a batch
        ClickHouse refuses is decoded here, its bad records dead-lettered, its rows written."""

        async def write_encoded() -> None:
            await asyncio.to_thread(self._locked, self.writer.write_encoded, records, token)

        started = time.perf_counter()
        try:
            await until_done(
                write_encoded, retry_on=ClickHouseUnavailable, what="insert into ClickHouse", logger=logger
            )
            written = len(records)
        except RejectedBatch as exc:
            logger.warning("%s; decoding batch %s record by record", exc, token)
            rows = await self._rows_or_dead_letters(records)

            async def write_rows() -> None:
                await asyncio.to_thread(self._locked, self.writer.write, rows, fallback_token(token))

            await until_done(
                write_rows, retry_on=ClickHouseUnavailable, what="insert into ClickHouse", logger=logger
            )
            written = len(rows)
        self.rows_written += written
        self.batches_written += 1
        if records:
            SINK_INSERT_SECONDS.observe(time.perf_counter() - started)
            SINK_BATCH_ROWS.observe(written)
            SINK_ROWS.inc(written)
            oldest = oldest_timestamp_ms(records)
            if oldest is not None:
                SINK_FRESHNESS_SECONDS.observe(max(0.0, time.time() - oldest / 1000))

    async def _rows_or_dead_letters(self, records: list[EncodedCompletion]) -> list[list[object]]:
        rows = []
        for record in records:
            try:
                rows.append(completion_row(decode_completion(record.value)))
            except (DecodeError, ValidationError, OutOfRange) as exc:
                source = f"{self.topic}[{record.partition}]@{record.offset}"
                await self._dead_letter(source, record.key, record.value, exc)
        return rows

    def _locked(self, write: Callable[[list[T], str], None], items: list[T], token: str) -> None:
        if not items:
            return
        with self.db_lock:
            write(items, token)


class CompletionSink(SinkCore):
    """The embedded-engine sink: every partition, assigned; see the module docstring."""

    def __init__(
        self,
        kafka: KafkaConfig,
        topics: TopicNames,
        writer: RowWriter,
        intent: IntentFile,
        *,
        config: SinkConfig | None = None,
    ) -> None:
        super().__init__(kafka, topics, writer, config=config)
        self.intent = intent
        self._partitions: list[TopicPartition] = []

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await start_client(self.kafka, self._consumer.start)
            await self._producer.start()
            self._partitions = [
                TopicPartition(self.topic, p) for p in await topic_partitions(self.kafka, self.topic)
            ]
            self._consumer.assign(self._partitions)
            await self._replay_pending()
            with startup_heap_frozen():
                await self._consume(stop)
        finally:
            await self._consumer.stop()
            await self._producer.stop()

    async def _consume(self, stop: asyncio.Event) -> None:
        """Read while the previous batch is written: ClickHouse takes a batch in a thread, so the
        next one fills meanwhile. One batch at a time is written (and recorded in the intent file):
        a batch that comes due waits for the one before it to be inserted and committed."""
        batch: Batch[EncodedCompletion] = Batch()
        writing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                left_s = (
                    self.config.max_wait_s - (time.monotonic() - batch.started) if not batch.empty else 1.0
                )
                fetched = await self._consumer.getmany(
                    timeout_ms=max(10, int(min(left_s, self.config.max_wait_s) * 1000)),
                    max_records=max(1, self.config.max_rows - len(batch.items)),
                )
                for tp, records in fetched.items():
                    if records:
                        admitted = await self._admit_all(records)
                        batch.extend(tp.partition, records[0].offset, records[-1].offset, admitted)
                await self.report_lag_now_and_then()
                if batch.due(self.config.max_rows, self.config.max_wait_s):
                    if writing is not None:
                        await writing
                    writing = asyncio.create_task(self._flush(batch))
                    batch = Batch()
            if writing is not None:
                await writing
            if not batch.empty:
                await self._flush(batch)
        finally:
            if writing is not None and not writing.done():  # stopped from outside: as a crash would
                writing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writing

    async def _flush(self, batch: Batch[EncodedCompletion]) -> None:
        pending = PendingBatch.for_ranges(self.topic, batch.ranges)
        self.intent.write(pending)
        await self._write_until_done(batch.items, pending.token)
        if self.after_insert is not None:
            self.after_insert()
        await self._commit(pending)
        self.intent.clear()

    async def _replay_pending(self) -> None:
        """Finish the batch a previous run inserted (or not) but did not commit."""
        pending = self.intent.read()
        if pending is None:
            return
        logger.warning("replaying the uncommitted batch %s: %s", pending.token, pending.ranges)
        for partition, (first, _) in pending.ranges.items():
            self._consumer.seek(TopicPartition(self.topic, partition), first)
        batch: Batch[EncodedCompletion] = Batch()
        left = dict(pending.ranges)
        async with asyncio.timeout(120):
            while left:
                fetched = await self._consumer.getmany(timeout_ms=500)
                for tp, records in fetched.items():
                    for record in records:
                        if pending.contains(tp.partition, record.offset):
                            batch.add(tp.partition, record.offset, await self._admit(record))
                        if tp.partition in left and record.offset >= left[tp.partition][1]:
                            del left[tp.partition]
        await self._write_until_done(batch.items, pending.token)
        await self._commit(pending)
        self.intent.clear()
        for tp in self._partitions:  # read on from what is now committed, not from the replay's position
            committed = await self._consumer.committed(tp)
            if committed is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)

    async def _commit(self, pending: PendingBatch) -> None:
        offsets = {TopicPartition(self.topic, p): last + 1 for p, (_, last) in pending.ranges.items()}

        async def commit() -> None:
            await self._consumer.commit(offsets)

        await until_done(commit, retry_on=KafkaError, what="offset commit", logger=logger)
        self.records_committed += sum(last - first + 1 for first, last in pending.ranges.values())
