"""Creating the pipeline's topics with the partition count the settings ask for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.kafka_options import client_options
from streams.settings import MobiusSettings


async def ensure_topics(
    settings: MobiusSettings, names: Iterable[str] | None = None, partitions: int | None = None
) -> list[str]:
    """Create the missing topics (all of settings.topics by default); the names created."""
    wanted = list(names) if names is not None else list(settings.topics.model_dump().values())
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            count = partitions or settings.kafka_partitions
            replicas = settings.kafka_replication_factor
            # Another process may create one between our list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, count, replicas) for name in missing])
        return missing
    finally:
        await admin.close()


async def topic_partitions(settings: MobiusSettings, topic: str, timeout_s: float = 30.0) -> list[int]:
    """The partition numbers of a topic, creating it first when it is missing.

    A topic created a moment ago can be described with no partitions yet (the controller has not
    spread its metadata): wait for them rather than hand a client an empty assignment.
    """
    await ensure_topics(settings, [topic])
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            described = await admin.describe_topics([topic])
            partitions = sorted(p["partition"] for p in described[0]["partitions"])
            if partitions:
                return partitions
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topic {topic} still shows no partitions after {timeout_s:.0f} s")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


class LagProbe:
    """A consumer group's lag on one topic (end offsets minus committed offsets), sampled on demand."""

    def __init__(self, settings: MobiusSettings, group: str, topic: str) -> None:
        self.settings = settings
        self.group = group
        self.topic = topic
        self._admin = AIOKafkaAdminClient(**client_options(settings))
        self._consumer = AIOKafkaConsumer(**client_options(settings), group_id=None)
        self._partitions: list[TopicPartition] = []

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()
        numbers = await topic_partitions(self.settings, self.topic)
        self._partitions = [TopicPartition(self.topic, p) for p in numbers]

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
