"""Creating topics with the configured partition count, and reading a group's lag."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.config import KafkaConfig
from streams.kafka_access import start_client
from streams.kafka_options import client_options
from streams.retrying import poll_until


async def ensure_topics(kafka: KafkaConfig, names: Iterable[str], partitions: int | None = None) -> list[str]:
    """Create the missing topics; the names created."""
    wanted = list(names)
    admin = AIOKafkaAdminClient(**client_options(kafka))
    try:
        await start_client(kafka, admin.start)
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            count = partitions or kafka.partitions
            replicas = kafka.replication_factor
            # Another process may create one between our list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, count, replicas) for name in missing])
        return missing
    finally:
        await admin.close()


async def list_topics(kafka: KafkaConfig) -> list[str]:
    """Every topic the cluster has (one short-lived admin connection)."""
    admin = AIOKafkaAdminClient(**client_options(kafka))
    try:
        await start_client(kafka, admin.start)
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def topic_partitions(kafka: KafkaConfig, topic: str, timeout_s: float = 30.0) -> list[int]:
    """The partition numbers of a topic, creating it first when it is missing.

    A topic created a moment ago can be described with no partitions yet (the controller has not
    spread its metadata): wait for them rather than hand a client an empty assignment.
    """
    await ensure_topics(kafka, [topic])
    admin = AIOKafkaAdminClient(**client_options(kafka))

    async def described() -> list[int]:
        topics = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in topics[0]["partitions"])

    try:
        await start_client(kafka, admin.start)
        return await poll_until(described, timeout_s=timeout_s, what=f"no partitions of topic {topic}")
    finally:
        await admin.close()


class LagProbe:
    """A consumer group's lag on one or more topics (end offsets minus committed offsets, summed),
    sampled on demand."""

    def __init__(self, kafka: KafkaConfig, group: str, topic: str | Iterable[str]) -> None:
        self.kafka = kafka
        self.group = group
        self.topics = [topic] if isinstance(topic, str) else list(topic)
        self._admin = AIOKafkaAdminClient(**client_options(kafka))
        self._consumer = AIOKafkaConsumer(**client_options(kafka), group_id=None)
        self._partitions: list[TopicPartition] = []

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()
        self._partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in await topic_partitions(self.kafka, topic)
        ]

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def lag(self) -> int:
        ends = await self._consumer.end_offsets(self._partitions)
        committed = await self._admin.list_consumer_group_offsets(self.group, partitions=self._partitions)
        return sum(
            max(0, end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0))
            for tp, end in ends.items()
        )

    async def stable_members(self) -> int:
        """How many members the group has once it is Stable (0 while it rebalances or is empty)."""
        for response in await self._admin.describe_consumer_groups([self.group]):
            # Raw DescribeGroups rows: (error, group_id, state, protocol_type, protocol, members, ...)
            for row in response.groups:
                if row[1] == self.group and row[2] == "Stable":
                    return len(row[5])
        return 0
