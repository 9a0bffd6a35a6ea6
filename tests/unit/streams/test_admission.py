"""The admission gate: at most `slots` holders, admitted by lane, and no slot lost to cancellation."""

from __future__ import annotations

import asyncio

from schemas.vocabulary import Tier
from streams.admission import PriorityGate, step_aside


async def _hold(gate: PriorityGate, lane: Tier, name: str, log: list[str], release: asyncio.Event) -> None:
    async with gate.slot(lane):
        log.append(name)
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_holders_are_bounded_and_admitted_by_lane() -> None:
    gate, log, release = PriorityGate(2), [], asyncio.Event()
    first = [asyncio.create_task(_hold(gate, "free", f"free-{n}", log, release)) for n in range(2)]
    await _settle()
    waiting = [asyncio.create_task(_hold(gate, "free", f"free-{n}", log, asyncio.Event())) for n in (2, 3)]
    waiting.append(asyncio.create_task(_hold(gate, "enterprise", "enterprise", log, asyncio.Event())))
    await _settle()
    assert log == ["free-0", "free-1"] and gate.lanes.waiting() == 3
    release.set()
    await asyncio.gather(*first)
    await _settle()
    assert log[2:] == ["enterprise", "free-2"]
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert gate.lanes.running == 0 and gate.lanes.waiting() == 0


async def test_a_waiter_cancelled_in_the_queue_leaves_it() -> None:
    gate, log, release = PriorityGate(1), [], asyncio.Event()
    holder = asyncio.create_task(_hold(gate, "free", "holder", log, release))
    await _settle()
    quitter = asyncio.create_task(_hold(gate, "enterprise", "quitter", log, asyncio.Event()))
    patient = asyncio.create_task(_hold(gate, "free", "patient", log, release))
    await _settle()
    quitter.cancel()
    await asyncio.gather(quitter, return_exceptions=True)
    release.set()
    await asyncio.gather(holder, patient)
    assert log == ["holder", "patient"]
    assert gate.lanes.running == 0


async def test_a_waiter_cancelled_as_it_is_admitted_gives_the_slot_back() -> None:
    gate, log, release = PriorityGate(1), [], asyncio.Event()
    holder = asyncio.create_task(_hold(gate, "free", "holder", log, release))
    await _settle()
    unlucky = asyncio.create_task(_hold(gate, "enterprise", "unlucky", log, asyncio.Event()))
    await _settle()
    release.set()
    unlucky.cancel()  # in the same turn as the holder's release admits it
    await asyncio.gather(holder, unlucky, return_exceptions=True)
    assert unlucky.cancelled()
    assert gate.lanes.running == 0
    async with asyncio.timeout(1):  # the slot is free again
        await _hold(gate, "free", "after", log, release)
    assert log == ["holder", "after"]


async def test_a_cancelled_ticket_admitted_later_passes_its_slot_on() -> None:
    gate, log, release = PriorityGate(1), [], asyncio.Event()
    holder = asyncio.create_task(_hold(gate, "free", "holder", log, release))
    await _settle()
    gone = asyncio.create_task(_hold(gate, "enterprise", "gone", log, asyncio.Event()))
    after = asyncio.create_task(_hold(gate, "free", "after", log, release))
    await _settle()
    gone.cancel()  # its ticket is cancelled now, but the task has not run its handler yet
    release.set()
    await asyncio.gather(holder, gone, after, return_exceptions=True)
    assert log == ["holder", "after"]
    assert gate.lanes.running == 0


async def test_a_holder_stepping_aside_lets_a_waiter_in_and_takes_a_slot_back_after() -> None:
    gate, log = PriorityGate(1), []
    done_waiting, release = asyncio.Event(), asyncio.Event()

    async def patient() -> None:
        async with gate.slot("free"):
            async with step_aside():
                await done_waiting.wait()
            log.append("patient back")

    first = asyncio.create_task(patient())
    await _settle()
    other = asyncio.create_task(_hold(gate, "free", "other", log, release))
    await _settle()
    assert log == ["other"] and gate.lanes.running == 1  # the slot went to the other query
    done_waiting.set()
    await _settle()
    assert log == ["other"]  # the patient one waits for a slot again
    release.set()
    await asyncio.gather(first, other)
    assert log == ["other", "patient back"] and gate.lanes.running == 0


async def test_cancelled_while_taking_its_slot_back_a_holder_releases_nothing() -> None:
    gate, log, release = PriorityGate(1), [], asyncio.Event()

    async def patient() -> None:
        async with gate.slot("free"), step_aside():
            await asyncio.sleep(0)

    holder = asyncio.create_task(patient())
    await _settle()
    other = asyncio.create_task(_hold(gate, "free", "other", log, release))
    await _settle()
    holder.cancel()  # it is waiting to take a slot back
    await asyncio.gather(holder, return_exceptions=True)
    assert gate.lanes.running == 1  # still the other one's, not released twice
    release.set()
    await other
    assert gate.lanes.running == 0 and gate.lanes.waiting() == 0


def test_outside_an_admitted_task_stepping_aside_is_a_no_op() -> None:
    async def outside() -> None:
        async with step_aside():
            pass

    asyncio.run(outside())
