"""The sink's buffer and its crash-safe intent record (pure: no Kafka, no ClickHouse).

A batch covers a contiguous offset range per partition. Before the insert, its ranges and token
are written to an intent file; after ClickHouse acknowledges and the offsets are committed, the
file is removed. A sink that dies in between finds the intent at start, re-reads exactly those
ranges and inserts them again with the same token, which ClickHouse recognises and skips: no
duplicate rows, and nothing lost.

In server mode (analytics/group_sink.py) a batch holds one partition's range, and its intent is
that partition's committed-offset metadata in Kafka instead of a local file, so it moves with the
partition to whichever sink owns it next.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class PendingBatch:
    """A batch's offset ranges and deduplication token, written before its insert."""

    token: str
    ranges: dict[int, tuple[int, int]]  # partition -> (first offset, last offset), inclusive

    @staticmethod
    def for_ranges(topic: str, ranges: dict[int, tuple[int, int]]) -> PendingBatch:
        spec = ";".join(f"{p}:{a}-{b}" for p, (a, b) in sorted(ranges.items()))
        token = hashlib.sha256(f"{topic}|{spec}".encode()).hexdigest()[:32]
        return PendingBatch(token, dict(ranges))

    def as_offset_metadata(self) -> str:
        """The intent as Kafka offset metadata (one partition's range; the token follows from it)."""
        ((partition, (first, last)),) = self.ranges.items()
        return json.dumps({"pending": [partition, first, last]})

    @staticmethod
    def from_offset_metadata(
        topic: str, partition: int, committed: int, metadata: str
    ) -> PendingBatch | None:
        """The unfinished batch a partition's committed metadata records, if any.

        Only a range that starts at the committed offset is unfinished: once the batch's offsets
        are committed, the metadata is cleared, so anything else is no intent of ours.
        """
        try:
            recorded, first, last = json.loads(metadata)["pending"]
        except (ValueError, KeyError, TypeError):
            return None
        if recorded != partition or not (isinstance(first, int) and isinstance(last, int)):
            return None
        if not first == committed <= last:
            return None
        return PendingBatch.for_ranges(topic, {partition: (first, last)})

    def contains(self, partition: int, offset: int) -> bool:
        span = self.ranges.get(partition)
        return span is not None and span[0] <= offset <= span[1]


@dataclass
class Batch(Generic[T]):
    """Records buffered since the last flush, with the offsets they came from."""

    started: float = field(default_factory=time.monotonic)
    items: list[T] = field(default_factory=list)
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)

    def add(self, partition: int, offset: int, item: T | None) -> None:
        """Buffer a record (None: one that yields no row, whose offset must still be committed)."""
        if self.empty:
            self.started = time.monotonic()  # a batch ages from its first record, not from idling
        first, _ = self.ranges.get(partition, (offset, offset))
        self.ranges[partition] = (first, offset)
        if item is not None:
            self.items.append(item)

    def extend(self, partition: int, first: int, last: int, items: list[T]) -> None:
        """Buffer one partition's records from `first` to `last` (offsets), all at once: `items` are
        those that yield a row (a dead-lettered record's offset is still covered by the range)."""
        if self.empty:
            self.started = time.monotonic()
        start, _ = self.ranges.get(partition, (first, last))
        self.ranges[partition] = (start, last)
        self.items.extend(items)

    @property
    def empty(self) -> bool:
        return not self.ranges

    def due(self, max_rows: int, max_wait_s: float, now: float | None = None) -> bool:
        if self.empty:
            return False
        age = (time.monotonic() if now is None else now) - self.started
        return len(self.items) >= max_rows or age >= max_wait_s


class IntentFile:
    """Where the batch being inserted is recorded until its offsets are committed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, pending: PendingBatch) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        data = {"token": pending.token, "ranges": {str(p): list(r) for p, r in pending.ranges.items()}}
        with temporary.open("w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)

    def read(self) -> PendingBatch | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        ranges = {int(p): (int(r[0]), int(r[1])) for p, r in data["ranges"].items()}
        return PendingBatch(str(data["token"]), ranges)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
