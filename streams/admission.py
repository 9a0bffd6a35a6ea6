"""The worker's admission gate: a query starts only when `LaneScheduler` gives it a slot.

    async with gate.slot("free"):
        ...  # at most `slots` bodies run at once, chosen by lane weight
        async with step_aside():
            ...  # waiting for something else: the slot serves another query meanwhile

A caller cancelled while it waits leaves the queue; one cancelled just as it was admitted gives
its slot straight back, so a slot is never lost to a cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping

from schemas.vocabulary import Tier
from streams.lanes import DEFAULT_WEIGHTS, LaneScheduler


class PriorityGate:
    """`slots` holders at once; waiting callers are admitted by lane weight (see streams.lanes)."""

    def __init__(self, slots: int, weights: Mapping[Tier, int] = DEFAULT_WEIGHTS) -> None:
        self.lanes: LaneScheduler[asyncio.Future[None]] = LaneScheduler(slots, weights)

    @contextlib.asynccontextmanager
    async def slot(self, lane: Tier) -> AsyncIterator[Slot]:
        await self.acquire(lane)
        held = Slot(self, lane)
        token = CURRENT_SLOT.set(held)
        try:
            yield held
        finally:
            CURRENT_SLOT.reset(token)
            if held.held:
                self.release()

    async def acquire(self, lane: Tier) -> None:
        """Wait for a slot by lane (prefer `slot`; this pair is for holders that are not tasks' slots)."""
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wake(self.lanes.arrive(lane, ticket))
        try:
            await ticket
        except asyncio.CancelledError:
            # Still queued: just leave. Admitted (a result was set) before the cancellation
            # landed: the slot is ours, give it back. Admitted while already cancelled: `_wake`
            # gave it back then.
            if not self.lanes.withdraw(ticket) and not ticket.cancelled():
                self.release()
            raise

    def release(self) -> None:
        self._wake(self.lanes.finish())

    @property
    def full(self) -> bool:
        return self.lanes.running >= self.lanes.slots

    def _wake(self, admitted: Iterable[asyncio.Future[None]]) -> None:
        pending = deque(admitted)
        while pending:
            ticket = pending.popleft()
            if ticket.cancelled():  # its caller is gone: pass the slot on
                pending.extend(self.lanes.finish())
            else:
                ticket.set_result(None)


class Slot:
    """One admitted caller's slot; it may step aside while it only waits (see `step_aside`)."""

    def __init__(self, gate: PriorityGate, lane: Tier) -> None:
        self.gate = gate
        self.lane = lane
        self.held = True

    @contextlib.asynccontextmanager
    async def stepped_aside(self) -> AsyncIterator[None]:
        """The slot goes to the next waiting caller meanwhile and is taken back, by lane, after.
        Cancelled while taking it back, the caller holds no slot (and releases none)."""
        self.gate.release()
        self.held = False
        try:
            yield
        finally:
            await self.gate.acquire(self.lane)
            self.held = True


CURRENT_SLOT: contextvars.ContextVar[Slot | None] = contextvars.ContextVar("mobius_slot", default=None)


def step_aside() -> contextlib.AbstractAsyncContextManager[None]:
    """Give the current task's slot to others while it waits for capacity (nothing to give
    outside an admitted task). Holding no lower resource while taking a slot back is the
    caller's rule: never step aside while holding what others with slots wait for."""
    held = CURRENT_SLOT.get()
    return held.stepped_aside() if held is not None and held.held else contextlib.nullcontext()
