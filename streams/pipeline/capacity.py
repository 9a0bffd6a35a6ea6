"""Per group, in one worker: a bound on provider calls at once, and the saturation episodes
(alerted once when a group first runs out of capacity, logged once when it has it back).

A query that waits (for one of its group's call slots, or for capacity to come back) steps aside
from the worker's admission slot meanwhile (`step_aside`, streams/admission.py), so a slow or
saturated group's queries do not keep every other group's queries out. A group's call slots go
to waiting queries by lane, as admission slots do, so priority holds when one group is the limit.
No deadlock: whoever waits for a call slot has stepped aside, so every admission slot is held by
a query that is not waiting for a call slot, and a call slot handed to a waiter is used as soon
as that waiter has an admission slot back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping

from schemas.vocabulary import Tier
from streams.admission import PriorityGate
from streams.lanes import DEFAULT_WEIGHTS, LOWEST_LANE

logger = logging.getLogger("mobius.pipeline.capacity")


class GroupCapacity:
    """`slots_per_group` provider calls at once per group, so one slow or saturated group cannot
    take every slot of the worker; and which groups are saturated now."""

    def __init__(
        self,
        slots_per_group: int | None,
        step_aside: Callable[[], contextlib.AbstractAsyncContextManager[None]] = contextlib.nullcontext,
        weights: Mapping[Tier, int] = DEFAULT_WEIGHTS,
    ) -> None:
        self.slots_per_group = slots_per_group
        self.aside = step_aside
        self.weights = weights
        self._slots: dict[str, PriorityGate] = {}
        self._episodes: dict[str, tuple[float, int]] = {}  # group -> (started, queries held)

    @contextlib.asynccontextmanager
    async def calling(self, group: str, lane: Tier = LOWEST_LANE) -> AsyncIterator[None]:
        if self.slots_per_group is None:
            yield
            return
        slots = self._slots.setdefault(group, PriorityGate(self.slots_per_group, self.weights))
        if slots.full:
            async with self.aside():  # the worker's slot serves another query while this one waits
                await slots.acquire(lane)
        else:
            await slots.acquire(lane)  # a free slot: taken at once
        try:
            yield
        finally:
            slots.release()

    def held(self, group: str) -> bool:
        """A query of `group` is held for capacity; True when this starts an episode (alert it)."""
        started, count = self._episodes.get(group, (time.monotonic(), 0))
        self._episodes[group] = (started, count + 1)
        if count == 0:
            logger.warning("group %s has no capacity: holding its queries until it does", group)
        return count == 0

    def answered(self, group: str) -> None:
        """A call of `group` succeeded: its episode, if any, is over."""
        episode = self._episodes.pop(group, None)
        if episode is not None:
            started, count = episode
            logger.warning(
                "group %s has capacity again after %.1f s; %d holds in the episode",
                group,
                time.monotonic() - started,
                count,
            )

    def saturated(self) -> list[str]:
        return sorted(self._episodes)
