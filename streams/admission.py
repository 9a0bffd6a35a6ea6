"""The worker's admission gate: a query starts only when `LaneScheduler` gives it a slot.

    async with gate.slot("free"):
        ...  # at most `slots` bodies run at once, chosen by lane weight

A caller cancelled while it waits leaves the queue; one cancelled just as it was admitted gives
its slot straight back, so a slot is never lost to a cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping

from schemas.vocabulary import Tier
from streams.lanes import DEFAULT_WEIGHTS, LaneScheduler


class PriorityGate:
    """`slots` holders at once; waiting callers are admitted by lane weight (see streams.lanes)."""

    def __init__(self, slots: int, weights: Mapping[Tier, int] = DEFAULT_WEIGHTS) -> None:
        self.lanes: LaneScheduler[asyncio.Future[None]] = LaneScheduler(slots, weights)

    @contextlib.asynccontextmanager
    async def slot(self, lane: Tier) -> AsyncIterator[None]:
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wake(self.lanes.arrive(lane, ticket))
        try:
            await ticket
        except asyncio.CancelledError:
            # Still queued: just leave. Admitted (a result was set) before the cancellation
            # landed: the slot is ours, give it back. Admitted while already cancelled: `_wake`
            # gave it back then.
            if not self.lanes.withdraw(ticket) and not ticket.cancelled():
                self._release()
            raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        self._wake(self.lanes.finish())

    def _wake(self, admitted: Iterable[asyncio.Future[None]]) -> None:
        pending = deque(admitted)
        while pending:
            ticket = pending.popleft()
            if ticket.cancelled():  # its caller is gone: pass the slot on
                pending.extend(self.lanes.finish())
            else:
                ticket.set_result(None)
