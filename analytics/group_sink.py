"""The sink in server mode: any number of sinks share the topic's partitions in a consumer group.

A batch holds one partition's records, so it is named by that partition and offset range alone:
its deduplication token is sha256(topic | partition:first-last) (analytics/batch.py). Before the
insert, the range is committed to Kafka as the partition's offset metadata, at the offset already
committed; after the insert, the offset moves past the range and the metadata is cleared. The
group coordinator takes a commit only from a member of the current generation (and aiokafka only
for partitions assigned to it), so a sink that lost the partition cannot write an intent, and the
intent travels with the partition: whichever sink owns it next (this one after a restart,
another after a rebalance or a kill) finds the range there, reads exactly that range again and
inserts it with the same token.
ClickHouse drops it if the first insert landed, even when the old owner was only stalled and
inserts after the new one. (Batches across partitions could not be re-formed like this: the new
owners of their partitions would each see only a part.) The look-up of a batch's request ids in
`completion_ids` stays as the second guard: it catches a record a worker sent twice.

On revoke, a write in progress finishes (and commits) first; batches not yet being written are
dropped, and their records are read again from the committed offset by the next owner. On
assignment, the sink reads each partition's committed offset and metadata and seeks there; what
was fetched before that was known is set aside (it comes again).

One insert per partition per flush: with many partitions per sink, raise `max_wait_s` to keep
ClickHouse near one insert a second per table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from analytics.batch import Batch, PendingBatch
from analytics.encoded import EncodedCompletion
from analytics.sink import SinkConfig, SinkCore
from analytics.writer import RowWriter
from streams.config import KafkaConfig, TopicNames
from streams.kafka_access import start_client
from streams.kafka_options import client_options
from streams.retrying import until_done
from streams.topics import topic_partitions

logger = logging.getLogger("mobius.analytics.sink")

# A commit refused because the group moved the partition on: the batch is the next owner's now.
_NOT_OWNER = (CommitFailedError, IllegalStateError)


class PartitionLost(Exception):
    """This sink no longer owns the partition a batch came from."""


class GroupSink(SinkCore):
    """Reads the partitions the group gives it and writes one batch per partition; see above."""

    def __init__(
        self,
        kafka: KafkaConfig,
        topics: TopicNames,
        writer: RowWriter,
        *,
        config: SinkConfig | None = None,
    ) -> None:
        super().__init__(kafka, topics, writer, config=config)
        self._admin = AIOKafkaAdminClient(**client_options(kafka))
        self._batches: dict[int, Batch[EncodedCompletion]] = {}
        self._replays: dict[int, PendingBatch] = {}  # a previous owner's unfinished batch, to redo
        self._owned: set[int] = set()
        self._generation = 0  # bumped by every rebalance: records fetched before one are stale
        self._ready = asyncio.Event()  # set once an assignment's positions and replays are known
        self._flushing = asyncio.Lock()  # a revoke waits for the write in progress

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await topic_partitions(self.kafka, self.topic)  # creates the topic when missing
            await start_client(self.kafka, self._consumer.start)
            await self._producer.start()
            await start_client(self.kafka, self._admin.start)
            self._consumer.subscribe([self.topic], listener=_Rebalance(self))
            await self._consume(stop)
        finally:
            await self._consumer.stop()
            await self._producer.stop()
            await self._admin.close()

    async def _consume(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            fetched = await self._consumer.getmany(
                timeout_ms=self._wait_ms(), max_records=max(1, self.config.max_rows - self._buffered())
            )
            await self.report_lag_now_and_then()
            if not self._ready.is_set():
                # Fetched during a rebalance, before this sink knew the partitions' unfinished
                # batches: set aside. The assignment seeks every partition to its committed offset.
                await self._until_ready(stop)
                continue
            # A rebalance while these are buffered (at an await below) makes the rest stale.
            generation = self._generation
            for records in fetched.values():
                for record in records:
                    if not await self._add(generation, record):
                        break
            if self._due():
                await self._flush_all()
        await self._flush_all()

    async def _until_ready(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self._ready.wait()
        if not self._ready.is_set() and not stop.is_set():
            logger.info("waiting for the group to assign partitions")

    async def _add(self, generation: int, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Buffer one record; False when a rebalance came after it was fetched (it comes again)."""
        partition = record.partition
        replay = self._replays.get(partition)
        if replay is not None and record.offset > replay.ranges[partition][1]:
            # The range's last records are gone (retention): what was read of it is all there is.
            if partition in self._batches:
                await self._flush(partition)
            else:
                self._replays.pop(partition, None)
            replay = None
        encoded = await self._admit(record)
        if generation != self._generation or not self._ready.is_set() or partition not in self._owned:
            return False
        self._batches.setdefault(partition, Batch()).add(partition, record.offset, encoded)
        if replay is not None and record.offset >= replay.ranges[partition][1]:
            await self._flush(partition)  # exactly the previous owner's range, under its token
        return True

    def _buffered(self) -> int:
        return sum(len(batch.items) for batch in self._batches.values())

    def _open(self) -> list[Batch[EncodedCompletion]]:
        """Batches that close by size or age; a redone range closes at its last offset only."""
        return [b for p, b in self._batches.items() if p not in self._replays and not b.empty]

    def _due(self) -> bool:
        max_rows, max_wait_s = self.config.max_rows, self.config.max_wait_s
        return self._buffered() >= max_rows or any(b.due(max_rows, max_wait_s) for b in self._open())

    def _wait_ms(self) -> int:
        started = [b.started for b in self._open()]
        left_s = self.config.max_wait_s - (time.monotonic() - min(started)) if started else 1.0
        return max(10, int(min(left_s, self.config.max_wait_s) * 1000))

    async def _flush_all(self) -> None:
        """Write every batch but a redone range not yet read to its end (its intent stays in Kafka)."""
        for partition in sorted(self._batches):
            if partition not in self._replays:
                await self._flush(partition)

    async def _flush(self, partition: int) -> None:
        async with self._flushing:
            batch = self._batches.pop(partition, None)
            if batch is None or batch.empty or partition not in self._owned:
                return
            pending = self._replays.pop(partition, None) or PendingBatch.for_ranges(self.topic, batch.ranges)
            first, last = pending.ranges[partition]
            tp = TopicPartition(self.topic, partition)
            try:
                await self._commit(tp, first, pending.as_offset_metadata(), what="batch intent")
                await self._write_until_done(batch.items, pending.token)
                if self.after_insert is not None:
                    self.after_insert()
                await self._commit(tp, last + 1, "", what="offset commit")
            except PartitionLost:
                logger.warning(
                    "partition %d moved to another sink before batch %s was committed; it redoes it",
                    partition,
                    pending.token,
                )
                return
            self.records_committed += last - first + 1

    async def _commit(self, tp: TopicPartition, offset: int, metadata: str, *, what: str) -> None:
        async def commit() -> None:
            await self._consumer.commit({tp: OffsetAndMetadata(offset, metadata)})

        try:
            await until_done(commit, retry_on=KafkaError, give_up_on=_NOT_OWNER, what=what, logger=logger)
        except _NOT_OWNER as exc:
            raise PartitionLost(str(tp)) from exc

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        async with self._flushing:  # the write in progress, if any, finishes and commits first
            self._ready.clear()
            self._generation += 1
            for tp in partitions:
                self._owned.discard(tp.partition)
                self._replays.pop(tp.partition, None)
                dropped = self._batches.pop(tp.partition, None)
                if dropped is not None and not dropped.empty:
                    logger.info(
                        "partition %d revoked: its next owner reads its unwritten records", tp.partition
                    )

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """Learn each partition's committed offset and unfinished batch, then read from there.

        aiokafka starts fetching for the new assignment before this returns; what it fetched
        meanwhile was set aside, so every partition is sought to its committed offset, in the same
        step that declares the assignment ready (no await in between)."""
        mine = [tp for tp in partitions if tp.topic == self.topic]

        async def committed() -> dict[TopicPartition, OffsetAndMetadata]:
            found: dict[TopicPartition, OffsetAndMetadata] = await self._admin.list_consumer_group_offsets(
                self.config.group_id, partitions=mine
            )
            return found

        async def beginnings() -> dict[TopicPartition, int]:
            first: dict[TopicPartition, int] = await self._consumer.beginning_offsets(mine)
            return first

        offsets = await until_done(committed, retry_on=KafkaError, what="committed offsets", logger=logger)
        starts = await until_done(beginnings, retry_on=KafkaError, what="first offsets", logger=logger)
        for tp in mine:
            entry = offsets.get(tp)
            position = entry.offset if entry is not None and entry.offset >= 0 else starts[tp]
            pending = (
                PendingBatch.from_offset_metadata(self.topic, tp.partition, position, entry.metadata)
                if entry is not None
                else None
            )
            if pending is not None:
                logger.warning("redoing the unfinished batch %s: %s", pending.token, pending.ranges)
                self._replays[tp.partition] = pending
            self._owned.add(tp.partition)
            self._consumer.seek(tp, position)
        self._generation += 1
        self._ready.set()
        logger.warning("sink owns partitions %s of %s", sorted(self._owned), self.topic)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: GroupSink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.sink.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.sink.assigned(assigned)
