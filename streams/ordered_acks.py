"""Acknowledge concurrent work in offset order, so a committed offset never passes unfinished work.

Faust commits up to the highest contiguous acked offset, but with out-of-order acks it has skipped
an in-flight message at the head (faust-streaming issue 606, still open in 0.15.3), which a crash
turns into a lost query. So the route agent handles many messages at once yet hands Faust its
acks strictly in order per partition: an offset is released only when it and every earlier
offset taken from that partition are finished.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

Partition = TypeVar("Partition", bound=Hashable)


class OrderedAcks(Generic[Partition]):
    """Offsets started and finished per partition; releases them only in offset order."""

    def __init__(self) -> None:
        self._in_flight: dict[Partition, deque[int]] = {}
        self._finished: dict[Partition, set[int]] = {}

    def started(self, partition: Partition, offset: int) -> None:
        """Note an offset taken for processing; offsets arrive in order within a partition."""
        self._in_flight.setdefault(partition, deque()).append(offset)

    def finished(self, partition: Partition, offset: int) -> list[int]:
        """Mark one offset done; the offsets now safe to ack, in order (maybe none)."""
        queue = self._in_flight.get(partition)
        if not queue:
            return []
        done = self._finished.setdefault(partition, set())
        done.add(offset)
        released = []
        while queue and queue[0] in done:
            head = queue.popleft()
            done.discard(head)
            released.append(head)
        return released

    def in_flight(self, partition: Partition) -> int:
        return len(self._in_flight.get(partition, ()))

    def forget(self, partition: Partition) -> None:
        """Drop a revoked partition: its unfinished offsets will be redelivered to its new owner."""
        self._in_flight.pop(partition, None)
        self._finished.pop(partition, None)
