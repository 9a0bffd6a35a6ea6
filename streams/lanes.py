"""Priority lanes: which waiting query a worker starts next when all its slots are busy.

A worker has `max_in_flight` slots. A query waits in its tier's lane until it gets one; when a
slot frees, the lanes share it by weight (stride scheduling, the slot-grant form of weighted fair
queuing). A lane with waiting queries receives at least weight / (sum of the weights of the lanes
waiting) of the grants, so with the default 16 : 4 : 1 enterprise is served first, pro next, and
free still gets one grant in 21 when both others are backlogged; a lane nobody else competes with
gets every slot. A lane that was idle rejoins at the current virtual time, never with credit
saved from its idle spell, so a burst cannot lock the others out.

Why weights and not aging or a reserved share: under sustained overload every free query waits
past any aging threshold, and aging then degrades to first-come-first-served, which is exactly
what lanes are meant to prevent; a share of slots reserved for free would sit idle when free has
nothing waiting, or need the same borrowing rule as weights. Weights keep both properties with
one rule: enterprise first, and a floor for free that holds however long the overload lasts.

This module is pure bookkeeping (no asyncio); `streams.admission` puts it in front of the route
agent. An item is whatever the caller wants handed back when it is admitted.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Final, Generic, TypeVar

from schemas.vocabulary import Tier

Item = TypeVar("Item")

# Highest priority first: the order that breaks ties between lanes at the same virtual time.
LANE_ORDER: Final[tuple[Tier, ...]] = ("enterprise", "pro", "free")
DEFAULT_WEIGHTS: Final[Mapping[Tier, int]] = {"enterprise": 16, "pro": 4, "free": 1}
# An event whose tier cannot be read (it will only become a dead letter) waits in the last lane.
LOWEST_LANE: Final[Tier] = LANE_ORDER[-1]


class LaneScheduler(Generic[Item]):
    """`slots` items run at once; the rest wait per lane and are admitted by weight."""

    def __init__(self, slots: int, weights: Mapping[Tier, int] = DEFAULT_WEIGHTS) -> None:
        if slots < 1:
            raise ValueError(f"a worker needs at least one slot, not {slots}")
        if set(weights) != set(LANE_ORDER) or min(weights.values()) < 1:
            raise ValueError(f"every lane ({', '.join(LANE_ORDER)}) needs a weight of 1 or more: {weights}")
        self.slots = slots
        self.running = 0
        # Integer strides (the lcm over each weight): virtual times never drift like floats.
        scale = math.lcm(*weights.values())
        self._stride = {lane: scale // weights[lane] for lane in LANE_ORDER}
        self._pass = dict.fromkeys(LANE_ORDER, 0)
        self._clock = 0  # the virtual time of the last grant
        self._waiting: dict[Tier, deque[Item]] = {lane: deque() for lane in LANE_ORDER}

    def waiting(self, lane: Tier | None = None) -> int:
        """Items waiting in one lane, or in all of them."""
        if lane is not None:
            return len(self._waiting[lane])
        return sum(len(queue) for queue in self._waiting.values())

    def arrive(self, lane: Tier, item: Item) -> list[Item]:
        """Queue an item; the items admitted now (this one, when a slot is free)."""
        queue = self._waiting[lane]
        if not queue:  # rejoining after an idle spell: no credit saved from it
            self._pass[lane] = max(self._pass[lane], self._clock)
        queue.append(item)
        return self._admit()

    def withdraw(self, item: Item) -> bool:
        """Take back an item still waiting (its caller gave up); False when it is not waiting."""
        for queue in self._waiting.values():
            if item in queue:
                queue.remove(item)
                return True
        return False

    def finish(self) -> list[Item]:
        """An admitted item is done; the items admitted into the slot it freed."""
        if self.running < 1:
            raise RuntimeError("finish() without an admitted item")
        self.running -= 1
        return self._admit()

    def _admit(self) -> list[Item]:
        admitted = []
        while self.running < self.slots and (lane := self._next_lane()) is not None:
            self._clock = self._pass[lane]
            self._pass[lane] += self._stride[lane]
            admitted.append(self._waiting[lane].popleft())
            self.running += 1
        return admitted

    def _next_lane(self) -> Tier | None:
        """The waiting lane with the least virtual time; ties go to the higher lane."""
        candidates = [
            (self._pass[lane], rank, lane) for rank, lane in enumerate(LANE_ORDER) if self._waiting[lane]
        ]
        return min(candidates)[2] if candidates else None
