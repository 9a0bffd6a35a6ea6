"""Alerts as events on mobius.alerts (and a warning in the log of the process that saw them)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.codec import DecodeError
from schemas.events import AlertEvent, decode_alert, encode_alert, now_utc
from streams.kafka_options import client_options
from streams.pipeline_types import Outgoing
from streams.settings import MobiusSettings
from streams.topics import topic_partitions

logger = logging.getLogger("mobius.alerts")


AlertKind = Literal["fallback_storm", "deployment_cooldown", "budget_near_cap", "budget_exceeded"]


def alert_record(
    topic: str, kind: AlertKind, subject: str, message: str, worker_id: str, **details: str
) -> Outgoing:
    alert = AlertEvent(
        alert_id=uuid.uuid4().hex,
        kind=kind,
        subject=subject,
        message=message,
        details=details,
        worker_id=worker_id,
        raised_at=now_utc(),
    )
    logger.warning("ALERT %s %s: %s", kind, subject, message)
    return Outgoing(topic, subject.encode(), encode_alert(alert))


async def follow(
    settings: MobiusSettings, from_beginning: bool, limit: int | None = None
) -> AsyncIterator[AlertEvent]:
    """Alerts as they arrive (or all kept, from the beginning); stops after `limit` if given."""
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(settings.topics.alerts, p)
            for p in await topic_partitions(settings, settings.topics.alerts)
        ]
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        seen = 0
        async for record in consumer:
            try:
                yield decode_alert(record.value or b"")
            except (DecodeError, ValidationError):
                logger.warning("undecodable record on %s skipped", settings.topics.alerts)
                continue
            seen += 1
            if limit is not None and seen >= limit:
                return
    finally:
        await consumer.stop()
