"""The atomic reserve/settle script against the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from mobius.settings import MobiusSettings
from routing.budgets import Cap, CapExceeded, Reservation, _cap
from streams.stores import keys
from streams.stores.budgets import RedisBudgetStore
from streams.stores.connection import redis_client


@pytest.fixture
async def redis(stack_settings: MobiusSettings) -> AsyncIterator[Redis]:
    client = redis_client(stack_settings.redis)
    yield client
    await client.aclose()


def _id() -> str:
    return uuid.uuid4().hex


def _caps(limit_nano: int) -> list[Cap]:
    subject = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    return [
        _cap("user", subject, "day", limit_nano, now),
        _cap("org", f"o{subject}", "month", limit_nano * 10, now),
    ]


async def test_concurrent_reservations_never_pass_the_cap(redis: Redis) -> None:
    store = RedisBudgetStore(redis, near_cap_share=1.0)
    caps = _caps(1000)
    results = await asyncio.gather(*(store.reserve(_id(), caps, 70, 70) for _ in range(100)))
    held = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, CapExceeded)]
    assert len(held) == 1000 // 70 and len(refused) == 100 - len(held)
    assert int(await redis.get(keys.spend_counter(caps[0]))) == 70 * len(held) <= 1000
    assert refused[0].cap.scope == "user" and refused[0].limit_nano == 1000


async def test_settling_replaces_the_estimate_with_the_exact_cost(redis: Redis) -> None:
    store = RedisBudgetStore(redis, near_cap_share=1.0)
    caps = _caps(10_000)
    held = await store.reserve(_id(), caps, 700, 700)
    assert isinstance(held, Reservation)
    await store.settle(held, 123)
    assert [spent for _, spent, _ in await store.spent(caps)] == [123, 123]
    assert 0 < await redis.ttl(keys.spend_counter(caps[0])) <= caps[0].ttl_s


async def test_near_the_cap_the_cheaper_estimate_is_reserved(redis: Redis) -> None:
    store = RedisBudgetStore(redis, near_cap_share=0.8)
    caps = _caps(1000)
    first = await store.reserve(_id(), caps, 500, 50)
    second = await store.reserve(_id(), caps, 500, 50)  # 500 + 500 > 800: downgrade
    assert isinstance(first, Reservation) and not first.downgraded
    assert isinstance(second, Reservation) and second.downgraded and second.amount_nano == 50


async def test_overrides_and_reset(redis: Redis) -> None:
    store = RedisBudgetStore(redis, near_cap_share=1.0)
    caps = _caps(1000)
    await store.set_limit("user", caps[0].subject, day_usd=0.000002, month_usd=None)  # 2000 nano
    assert isinstance(await store.reserve(_id(), caps, 1500, 1500), Reservation)
    assert next(limit for _, _, limit in await store.spent(caps)) == 2000
    assert await store.reset("user", caps[0].subject, limits_too=True) == 2
    assert next(spent for _, spent, _ in await store.spent(caps)) == 0


async def test_a_redelivered_request_reuses_its_reservation_and_settles_once(redis: Redis) -> None:
    """A worker killed mid-call left its reservation; the request's next owner must not hold a
    second one, and only one settlement counts."""
    store = RedisBudgetStore(redis, near_cap_share=1.0)
    caps = _caps(10_000)
    request = _id()
    first = await store.reserve(request, caps, 700, 700)
    again = await store.reserve(request, caps, 700, 700)
    assert isinstance(first, Reservation) and isinstance(again, Reservation)
    assert (again.reused, again.amount_nano) == (True, 700)
    assert [spent for _, spent, _ in await store.spent(caps)] == [700, 700]
    await store.settle(again, 250)
    await store.settle(first, 250)  # the dead owner's settle, had it lived: a no-op now
    assert [spent for _, spent, _ in await store.spent(caps)] == [250, 250]


async def test_a_reservation_whose_owner_died_is_refunded_when_its_lease_lapses(redis: Redis) -> None:
    store = RedisBudgetStore(redis, near_cap_share=1.0, lease_s=0.2)
    caps = _caps(10_000)
    orphan = await store.reserve(_id(), caps, 900, 900)
    living = await store.reserve(_id(), caps, 100, 100)
    assert isinstance(orphan, Reservation) and isinstance(living, Reservation)
    async with store.holding(living):
        async with asyncio.timeout(10):
            while [spent for _, spent, _ in await store.spent(caps)] != [100, 100]:
                await store.reap()
                await asyncio.sleep(0.05)
    await store.settle(living, 40)
    await store.settle(orphan, 900)  # too late: refunded already, nothing to settle
    assert [spent for _, spent, _ in await store.spent(caps)] == [40, 40]
