"""Creating the pipeline's topics with the partition count the settings ask for."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

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


async def topic_partitions(settings: MobiusSettings, topic: str) -> list[int]:
    """The partition numbers of a topic, creating it first when it is missing."""
    await ensure_topics(settings, [topic])
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in described[0]["partitions"])
