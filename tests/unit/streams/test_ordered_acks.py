from streams.ordered_acks import OrderedAcks


def test_offsets_are_released_only_in_order() -> None:
    acks: OrderedAcks[int] = OrderedAcks()
    for offset in (10, 11, 12, 13):
        acks.started(0, offset)
    assert acks.finished(0, 12) == []
    assert acks.finished(0, 11) == []
    assert acks.finished(0, 10) == [10, 11, 12]
    assert acks.in_flight(0) == 1
    assert acks.finished(0, 13) == [13]


def test_partitions_are_independent() -> None:
    acks: OrderedAcks[str] = OrderedAcks()
    acks.started("a", 1)
    acks.started("b", 7)
    assert acks.finished("b", 7) == [7]
    assert acks.in_flight("a") == 1


def test_a_forgotten_partition_releases_nothing() -> None:
    acks: OrderedAcks[int] = OrderedAcks()
    acks.started(0, 5)
    acks.started(0, 6)
    acks.forget(0)
    assert acks.finished(0, 5) == []
    assert acks.finished(0, 6) == []
