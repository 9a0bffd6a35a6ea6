from pathlib import Path

from analytics.batch import Batch, IntentFile, PendingBatch


def test_a_batch_tracks_offset_ranges_per_partition_and_closes_on_size_or_age() -> None:
    batch: Batch[list[str]] = Batch()
    assert batch.empty and not batch.due(2, 1.0)
    batch.add(0, 10, ["a"])
    batch.add(0, 11, None)  # undecodable: no row, but its offset is covered
    batch.add(3, 7, ["b"])
    assert batch.ranges == {0: (10, 11), 3: (7, 7)}
    assert len(batch.items) == 2
    assert batch.due(2, 60.0)
    assert not batch.due(5, 60.0, now=batch.started + 1)
    assert batch.due(5, 1.0, now=batch.started + 1)


def test_the_token_depends_only_on_topic_and_ranges() -> None:
    a = PendingBatch.for_ranges("c", {0: (10, 11), 3: (7, 7)})
    b = PendingBatch.for_ranges("c", {3: (7, 7), 0: (10, 11)})
    assert a.token == b.token
    assert a.token != PendingBatch.for_ranges("c", {0: (10, 12), 3: (7, 7)}).token
    assert a.token != PendingBatch.for_ranges("other", {0: (10, 11), 3: (7, 7)}).token
    assert a.contains(0, 11) and not a.contains(0, 12) and not a.contains(1, 10)


def test_the_intent_file_round_trips_and_clears(tmp_path: Path) -> None:
    intent = IntentFile(tmp_path / "sink" / "pending.json")
    assert intent.read() is None
    pending = PendingBatch.for_ranges("c", {0: (10, 11)})
    intent.write(pending)
    assert intent.read() == pending
    intent.clear()
    assert intent.read() is None


def test_a_partitions_intent_round_trips_through_offset_metadata() -> None:
    pending = PendingBatch.for_ranges("c", {4: (100, 149)})
    metadata = pending.as_offset_metadata()
    assert PendingBatch.from_offset_metadata("c", 4, 100, metadata) == pending
    # Whichever sink reads the range again names it the same: the token is the range's own.
    assert PendingBatch.from_offset_metadata("c", 4, 100, metadata).token == pending.token  # type: ignore[union-attr]


def test_offset_metadata_that_is_no_unfinished_batch_is_ignored() -> None:
    metadata = PendingBatch.for_ranges("c", {4: (100, 149)}).as_offset_metadata()
    assert PendingBatch.from_offset_metadata("c", 4, 150, metadata) is None  # committed past it
    assert PendingBatch.from_offset_metadata("c", 5, 100, metadata) is None  # another partition's
    for other in ("", "{}", "not json", '{"pending": [4, "a", 3]}', '{"pending": [4, 100]}'):
        assert PendingBatch.from_offset_metadata("c", 4, 100, other) is None
