"""Consumer lag: highwater minus position per assigned partition; revoked partitions leave the gauge."""

from __future__ import annotations

from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from streams.lag import measure_lag, publish_lag, report_lag


class FakeConsumer:
    def __init__(
        self, highwaters: dict[TopicPartition, int | None], positions: dict[TopicPartition, int]
    ) -> None:
        self.highwaters, self.positions = highwaters, positions

    def assignment(self) -> set[TopicPartition]:
        return set(self.highwaters)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp]

    async def position(self, tp: TopicPartition) -> int | None:
        if tp not in self.positions:
            raise RuntimeError("not assigned any more")  # what a consumer mid-rebalance does
        return self.positions[tp]


def _sample(topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value("mobius_consumer_lag", {"topic": topic, "partition": str(partition)})


A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


async def test_lag_is_highwater_minus_position_and_unfetched_partitions_have_none() -> None:
    consumer = FakeConsumer({A0: 120, A1: None, B0: 7}, {A0: 100, A1: 0, B0: 9})
    assert await measure_lag(consumer) == {("a", 0): 20, ("b", 0): 0}  # a stale highwater: never below 0


async def test_the_gauge_holds_exactly_the_assigned_partitions() -> None:
    publish_lag({("a", 0): 20, ("a", 1): 3})
    assert (_sample("a", 0), _sample("a", 1)) == (20, 3)
    publish_lag({("a", 1): 0})  # a/0 revoked
    assert (_sample("a", 0), _sample("a", 1)) == (None, 0)


async def test_a_consumer_that_cannot_answer_leaves_the_gauge_as_it_was() -> None:
    publish_lag({("a", 0): 5})
    await report_lag(FakeConsumer({A0: 9}, {}))
    assert _sample("a", 0) == 5
