"""The Faust application the route agent runs in."""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.auth import SASLCredentials, SSLCredentials
from faust.exceptions import ConsumerNotStarted
from faust.types.auth import CredentialsT

from streams.config import KafkaConfig, KafkaSecurity, WorkerConfig
from streams.kafka_options import FETCH_MAX_WAIT_MS, sasl, tls_context

logger = logging.getLogger("mobius.app")


def create_app(kafka: KafkaConfig, worker: WorkerConfig) -> faust.App:
    """A Faust app joining `worker.group`, with raw bytes in and out (Avro is ours to decode)."""
    datadir = (worker.data_dir / worker.worker_id).resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    servers = ";".join(f"kafka://{host}:{port}" for host, port in kafka.endpoints)
    session_timeout_s = worker.session_timeout_s
    buffer = max(1024, worker.max_in_flight * 2)
    app = faust.App(
        worker.group,
        broker=servers,
        broker_credentials=faust_credentials(kafka.security),
        key_serializer="raw",
        value_serializer="raw",
        # Each worker on a machine needs its own data dir; no worker serves Faust's web views.
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # A dead worker's partitions move to the living within this many seconds.
        broker_session_timeout=session_timeout_s,
        broker_heartbeat_interval=min(3.0, session_timeout_s / 3),
        # How long a rebalance waits for members to rejoin: a killed worker never does, so keep
        # it short (Faust's default of 60 s kept the survivors' partitions idle for a minute).
        broker_rebalance_timeout=session_timeout_s * 2,
        broker_commit_interval=1.0,
        producer_max_request_size=kafka.max_message_bytes,
        consumer_max_fetch_size=kafka.max_message_bytes,
        stream_buffer_maxsize=buffer,
        # Faust stops fetching a partition once its stream's buffer passes 80% (a lane waiting
        # for slots), but still delivers the rest of the poll; a poll that could overfill the
        # buffer would block delivery to every other lane's stream too. So one poll hands over
        # less than the 20% left.
        broker_max_poll_records=buffer // 8,
    )

    def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        if not shorten_fetch_wait(app):
            logger.warning("could not shorten the consumer's fetch wait (Faust or aiokafka changed)")

    app.on_partitions_assigned.connect(on_assigned)
    return app


def shorten_fetch_wait(app: faust.App) -> bool:
    """Set the running consumer's fetch wait to FETCH_MAX_WAIT_MS (see streams/kafka_options.py);
    False if its internals are not where faust-streaming 0.15 and aiokafka 0.14 keep them."""
    ensure_consumer = getattr(getattr(app.consumer, "_thread", None), "_ensure_consumer", None)
    if ensure_consumer is None:
        return False
    try:
        fetcher = getattr(ensure_consumer(), "_fetcher", None)
    except ConsumerNotStarted:  # a rebalance must never fail on this
        return False
    if fetcher is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
        return False
    fetcher._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
    return True


def faust_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """The same security as Faust's broker credentials."""
    context = tls_context(security)
    if (login := sasl(security)) is not None:
        return SASLCredentials(
            username=login.username, password=login.password, mechanism=login.mechanism, ssl_context=context
        )
    return SSLCredentials(context) if context is not None else None
