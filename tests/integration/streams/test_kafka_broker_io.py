"""Produce with the idempotent producer (acks=all) and consume in a group on the real broker."""

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.kafka_options import client_options
from streams.settings import MobiusSettings
from streams.topics import ensure_topics


async def test_idempotent_produce_then_group_consume_and_commit(
    stack_settings: MobiusSettings, unique: str
) -> None:
    topic = f"test.io.{unique}"
    assert await ensure_topics(stack_settings, [topic], partitions=3) == [topic]
    assert await ensure_topics(stack_settings, [topic], partitions=3) == []
    options = client_options(stack_settings)
    sent = {f"user-{i % 7}:{i}".encode() for i in range(60)}
    producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await asyncio.gather(*(producer.send_and_wait(topic, v, key=v.split(b":")[0]) for v in sent))
    finally:
        await producer.stop()

    group = f"test-group-{unique}"
    consumer = AIOKafkaConsumer(
        topic, **options, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    received: dict[bytes, int] = {}
    try:
        async with asyncio.timeout(60):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, records in batch.items():
                    for record in records:
                        assert record.value is not None
                        received[record.value] = tp.partition
        await consumer.commit()
        partitions = [TopicPartition(topic, p) for p in range(3)]
        ends = await consumer.end_offsets(partitions)
        committed = {tp: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()
    assert set(received) == sent
    # Keys spread over partitions, and one key always lands on one partition.
    assert len(set(received.values())) > 1
    by_key: dict[bytes, set[int]] = {}
    for value, partition in received.items():
        by_key.setdefault(value.split(b":")[0], set()).add(partition)
    assert all(len(p) == 1 for p in by_key.values())
    assert committed == ends
