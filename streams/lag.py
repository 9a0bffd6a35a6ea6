"""Consumer lag per partition as a Prometheus gauge, for the workers and the sink alike.

Lag here is the partition's highwater (the offset the next produced record will get, as the
last fetch response reported it) minus the consumer's position (the next offset it will fetch):
records on the broker this process has not fetched yet. Records fetched and still waiting in
the process (a worker's lane buffer) are not lag but in flight (`mobius_in_flight_queries`).
A partition not fetched from yet has no highwater and no sample.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from prometheus_client import Gauge

logger = logging.getLogger("mobius.lag")

CONSUMER_LAG = Gauge(
    "mobius_consumer_lag",
    "Records on a partition past this consumer's position (highwater minus position).",
    ["topic", "partition"],  # bounded: the partitions this process is assigned
)


class LagSource(Protocol):
    """What aiokafka's consumer and Faust's both offer (positions of assigned partitions)."""

    def assignment(self) -> Iterable[Any]: ...

    def highwater(self, tp: Any) -> int | None: ...

    async def position(self, tp: Any) -> int | None: ...


async def measure_lag(consumer: LagSource) -> dict[tuple[str, int], int]:
    """Each assigned partition's lag, by (topic, partition)."""
    lags: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        position = await consumer.position(tp)
        if highwater is not None and position is not None:
            lags[(tp.topic, tp.partition)] = max(0, highwater - position)
    return lags


def publish_lag(lags: Mapping[tuple[str, int], int]) -> None:
    """The gauge holds exactly these partitions (a revoked one's sample goes)."""
    CONSUMER_LAG.clear()
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(topic, str(partition)).set(lag)


async def report_lag(consumer: LagSource) -> None:
    """Measure and publish; a consumer mid-rebalance or stopping is skipped, never an error."""
    try:
        publish_lag(await measure_lag(consumer))
    except Exception as exc:  # noqa: BLE001 - a metric must never stop the loop feeding it
        logger.debug("consumer lag not measured: %s", exc)
