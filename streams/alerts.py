"""Alerts as events on mobius.alerts (and a warning in the log of the process that saw them)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.codec import DecodeError
from schemas.events import AlertEvent, decode_alert, encode_alert, now_utc
from schemas.vocabulary import AlertKind
from streams.config import KafkaConfig
from streams.kafka_options import client_options
from streams.metrics import ALERTS
from streams.outgoing import Outgoing
from streams.topics import topic_partitions

logger = logging.getLogger("mobius.alerts")


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
    ALERTS.labels(kind).inc()
    return Outgoing(topic, subject.encode(), encode_alert(alert))


async def follow(
    kafka: KafkaConfig, topic: str, from_beginning: bool, limit: int | None = None
) -> AsyncIterator[AlertEvent]:
    """Alerts as they arrive (or all kept, from the beginning); stops after `limit` if given."""
    consumer = AIOKafkaConsumer(**client_options(kafka), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await topic_partitions(kafka, topic)]
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
                logger.warning("undecodable record on %s skipped", topic)
                continue
            seen += 1
            if limit is not None and seen >= limit:
                return
    finally:
        await consumer.stop()
