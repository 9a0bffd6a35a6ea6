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
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from analytics.batch import Batch, IntentFile, PendingBatch
from analytics.clickhouse import ClickHouseUnavailable
from analytics.metrics import (
    SINK_BATCH_ROWS,
    SINK_DEAD_LETTERS,
    SINK_FRESHNESS_SECONDS,
    SINK_INSERT_SECONDS,
    SINK_ROWS,
)
from analytics.rows import COLUMNS, completion_row
from analytics.writer import RowWriter
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
COMPLETED_AT = COLUMNS.index("completed_at")
LAG_INTERVAL_S = 2.0
SINK_GROUP = "mobius-analytics-sink"


@dataclass(frozen=True)
class SinkConfig:
    """How big and how old a batch may grow, and the consumer group whose offsets the sink commits
    (in server mode also the group the sinks share the partitions in, with its session timeout)."""

    max_rows: int = 5000
    max_wait_s: float = 0.5
    group_id: str = SINK_GROUP
    session_timeout_s: float = 10.0


class SinkCore:
    """What every sink shares: its Kafka clients, decoding (or dead-lettering), the retried insert."""

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

    async def _row_or_dead_letter(self, record: ConsumerRecord[bytes, bytes]) -> list[object] | None:
        try:
            return completion_row(decode_completion(record.value or b""))
        except (DecodeError, ValidationError) as exc:  # never stops the sink, never silently dropped
            reason = f"undecodable completion record: {type(exc).__name__}: {exc}"
            SINK_DEAD_LETTERS.inc()
            logger.warning("%s at %s[%d]@%d", reason, record.topic, record.partition, record.offset)
            headers = [
                (DLQ_REASON, reason.encode()),
                (DLQ_SOURCE, f"{record.topic}[{record.partition}]@{record.offset}".encode()),
            ]
            await self._producer.send_and_wait(
                self.topics.dlq, record.value or b"", key=record.key, headers=headers
            )
            return None

    async def _write_until_done(self, rows: list[list[object]], token: str) -> None:
        """Insert, retrying while ClickHouse is away (Kafka keeps the records meanwhile)."""

        async def write() -> None:
            await asyncio.to_thread(self._locked_write, rows, token)

        started = time.perf_counter()
        await until_done(write, retry_on=ClickHouseUnavailable, what="insert into ClickHouse", logger=logger)
        self.rows_written += len(rows)
        self.batches_written += 1
        if rows:
            SINK_INSERT_SECONDS.observe(time.perf_counter() - started)
            SINK_BATCH_ROWS.observe(len(rows))
            SINK_ROWS.inc(len(rows))
            completed = [row[COMPLETED_AT] for row in rows]
            oldest = min((c for c in completed if isinstance(c, datetime)), default=None)
            if oldest is not None:
                SINK_FRESHNESS_SECONDS.observe(max(0.0, (datetime.now(UTC) - oldest).total_seconds()))

    def _locked_write(self, rows: list[list[object]], token: str) -> None:
        if not rows:
            return
        with self.db_lock:
            self.writer.write(rows, token)


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
            await self._consume(stop)
        finally:
            await self._consumer.stop()
            await self._producer.stop()

    async def _consume(self, stop: asyncio.Event) -> None:
        batch = Batch()
        while not stop.is_set():
            left_s = self.config.max_wait_s - (time.monotonic() - batch.started) if not batch.empty else 1.0
            fetched = await self._consumer.getmany(
                timeout_ms=max(10, int(min(left_s, self.config.max_wait_s) * 1000)),
                max_records=max(1, self.config.max_rows - len(batch.rows)),
            )
            for tp, records in fetched.items():
                for record in records:
                    batch.add(tp.partition, record.offset, await self._row_or_dead_letter(record))
            await self.report_lag_now_and_then()
            if batch.due(self.config.max_rows, self.config.max_wait_s):
                await self._flush(batch)
                batch = Batch()
        if not batch.empty:
            await self._flush(batch)

    async def _flush(self, batch: Batch) -> None:
        pending = PendingBatch.for_ranges(self.topic, batch.ranges)
        self.intent.write(pending)
        await self._write_until_done(batch.rows, pending.token)
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
        batch = Batch()
        left = dict(pending.ranges)
        async with asyncio.timeout(120):
            while left:
                fetched = await self._consumer.getmany(timeout_ms=500)
                for tp, records in fetched.items():
                    for record in records:
                        if pending.contains(tp.partition, record.offset):
                            batch.add(tp.partition, record.offset, await self._row_or_dead_letter(record))
                        if tp.partition in left and record.offset >= left[tp.partition][1]:
                            del left[tp.partition]
        await self._write_until_done(batch.rows, pending.token)
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
