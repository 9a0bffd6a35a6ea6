"""Per group, in one worker: a bound on provider calls at once, and the saturation episodes
(alerted once when a group first runs out of capacity, logged once when it has it back).

A query that waits (for one of its group's call slots, or for capacity to come back) steps aside
from the worker's admission slot meanwhile (`step_aside`, streams/admission.py), so a slow or
saturated group's queries do not keep every other group's queries out. The rule that keeps this
free of deadlock: a query never waits for its admission slot while it holds a call slot; it takes
the call slot only once it holds its admission slot again, without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

logger = logging.getLogger("mobius.pipeline.capacity")


class GroupCapacity:
    """`slots_per_group` provider calls at once per group, so one slow or saturated group cannot
    take every slot of the worker; and which groups are saturated now."""

    def __init__(
        self,
        slots_per_group: int | None,
        step_aside: Callable[[], contextlib.AbstractAsyncContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.slots_per_group = slots_per_group
        self.aside = step_aside
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._freed: dict[str, asyncio.Condition] = {}
        self._episodes: dict[str, tuple[float, int]] = {}  # group -> (started, queries held)

    @contextlib.asynccontextmanager
    async def calling(self, group: str) -> AsyncIterator[None]:
        if self.slots_per_group is None:
            yield
            return
        slots = self._slots.setdefault(group, asyncio.Semaphore(self.slots_per_group))
        freed = self._freed.setdefault(group, asyncio.Condition())
        while slots.locked():
            async with self.aside(), freed:
                await freed.wait()
        await slots.acquire()  # not locked: returns at once, so no slot is held while waiting
        try:
            yield
        finally:
            slots.release()
            async with freed:
                freed.notify_all()

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
