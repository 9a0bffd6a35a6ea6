"""The route agent's bookkeeping of events taken from the stream and not yet acknowledged."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from faust.types import TP, EventT

from streams.ordered_acks import OrderedAcks


class InFlight:
    """Events taken from the stream and not yet acked, by partition and offset; released for
    acking strictly in offset order per partition (faust-streaming issue 606)."""

    def __init__(self) -> None:
        self.order: OrderedAcks[TP] = OrderedAcks()
        self.events: dict[tuple[TP, int], EventT[Any]] = {}

    def take(self, event: EventT[Any]) -> None:
        tp, offset = event.message.tp, event.message.offset
        self.order.started(tp, offset)
        self.events[(tp, offset)] = event

    def holds(self, event: EventT[Any]) -> bool:
        """The event is still this worker's to finish (its partition was not revoked since it was taken)."""
        return self.events.get((event.message.tp, event.message.offset)) is event

    def release(self, event: EventT[Any]) -> list[EventT[Any]]:
        """The events that may now be acked, in offset order."""
        tp = event.message.tp
        return [self.events.pop((tp, offset)) for offset in self.order.finished(tp, event.message.offset)]

    def forget(self, partitions: Iterable[TP]) -> None:
        """A revoked partition's unfinished events are redelivered to its next owner; never ack them."""
        for tp in partitions:
            self.order.forget(tp)
            for key in [k for k in self.events if k[0] == tp]:
                del self.events[key]
