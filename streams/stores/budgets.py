"""Redis adapter for spend caps: reserve, settle and refund, each one atomic step.

Every reservation is owned by its request id and has a lease (a sorted set scored by the lease's
end). The owner renews it while the provider call runs. A request delivered again after a crash
re-uses the reservation it already holds; a reservation whose owner died and whose request never
came back is refunded when its lease lapses (`reap`). Settling twice is a no-op. So a crash never
charges a request's estimate twice, and never leaves it charged for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence

from redis import RedisError
from redis.asyncio import Redis

from routing.budgets import Cap, CapExceeded, Reservation, Scope, usd_to_nano
from streams.pipeline.ports import BudgetUnavailable
from streams.stores import keys

logger = logging.getLogger("mobius.budgets")
LEASE_S = 30.0

# KEYS: reservation hash, reservations zset, then per cap: its spend counter, its override hash.
# ARGV: primary estimate, cheaper estimate, near-cap share, lease end (ms), request id, then per
#       cap: default limit, override field, counter ttl.
# Returns {downgraded, reused, amount, 0, spent_1, limit_1, ...} (spent before this reservation)
#      or {-1, cap index, spent, limit}.
_RESERVE = """
local held = redis.call('HGET', KEYS[1], 'amount')
if held then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
  return {tonumber(redis.call('HGET', KEYS[1], 'downgraded')), 1, tonumber(held), 0}
end
local primary, cheaper, near = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n = (#KEYS - 2) / 2
local spent, limits = {}, {}
for i = 1, n do
  local base = 5 + (i - 1) * 3
  local override = redis.call('HGET', KEYS[2 + 2 * i], ARGV[base + 2])
  limits[i] = tonumber(override or ARGV[base + 1])
  spent[i] = tonumber(redis.call('GET', KEYS[1 + 2 * i]) or '0')
end
local amount, downgraded = primary, 0
for i = 1, n do
  if spent[i] + primary > limits[i] * near then amount, downgraded = cheaper, 1 end
end
for i = 1, n do
  if spent[i] + amount > limits[i] then return {-1, i, spent[i], limits[i]} end
end
local result = {downgraded, 0, amount, 0}
local counters = {}
for i = 1, n do
  redis.call('INCRBY', KEYS[1 + 2 * i], amount)
  redis.call('EXPIRE', KEYS[1 + 2 * i], tonumber(ARGV[5 + (i - 1) * 3 + 3]))
  counters[#counters + 1] = KEYS[1 + 2 * i]
  result[#result + 1] = spent[i]
  result[#result + 1] = limits[i]
end
redis.call('HSET', KEYS[1], 'amount', amount, 'downgraded', downgraded,
           'counters', table.concat(counters, ' '))
redis.call('EXPIRE', KEYS[1], 172800)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
return result
"""

# KEYS: reservation hash, reservations zset. ARGV: the exact cost, request id.
# Moves every counter by (cost - reserved) and forgets the reservation; 0 if it was already gone.
_SETTLE = """
local held = redis.call('HGET', KEYS[1], 'amount')
redis.call('ZREM', KEYS[2], ARGV[2])
if not held then return 0 end
local delta = tonumber(ARGV[1]) - tonumber(held)
for counter in string.gmatch(redis.call('HGET', KEYS[1], 'counters') or '', '%S+') do
  if delta ~= 0 then redis.call('INCRBY', counter, delta) end
end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: reservations zset. ARGV: now (ms), most to refund, the reservation key prefix.
# Refunds reservations whose lease lapsed (their owner died and nobody took them over).
_REAP = """
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(lapsed) do
  local key = ARGV[3] .. id
  local held = redis.call('HGET', key, 'amount')
  if held then
    for counter in string.gmatch(redis.call('HGET', key, 'counters') or '', '%S+') do
      redis.call('DECRBY', counter, tonumber(held))
    end
    redis.call('DEL', key)
  end
  redis.call('ZREM', KEYS[1], id)
end
return #lapsed
"""


class RedisBudgetStore:
    """Spend caps in Redis: the pipeline's BudgetGuard, and what `mobius budget` reads and sets."""

    def __init__(self, client: Redis, near_cap_share: float, lease_s: float = LEASE_S) -> None:
        self.client = client
        self.near_cap_share = near_cap_share
        self.lease_s = lease_s
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._reap = client.register_script(_REAP)

    def _lease_end_ms(self) -> int:
        return int((time.time() + self.lease_s) * 1000)

    async def reserve(
        self, request_id: str, caps: Sequence[Cap], primary_nano: int, cheaper_nano: int
    ) -> Reservation | CapExceeded:
        keys_: list[str] = [keys.reservation(request_id), keys.RESERVATIONS]
        args: list[str | int] = [
            primary_nano,
            cheaper_nano,
            repr(self.near_cap_share),
            self._lease_end_ms(),
            request_id,
        ]
        for cap in caps:
            keys_ += [keys.spend_counter(cap), keys.spend_limits(cap.scope, cap.subject)]
            args += [cap.default_limit_nano, keys.limit_field(cap), cap.ttl_s]
        try:
            flag, index, amount, limit, *levels = await self._reserve(keys=keys_, args=args)
        except RedisError as exc:
            raise BudgetUnavailable(str(exc)) from exc
        if int(flag) < 0:
            return CapExceeded(caps[int(index) - 1], spent_nano=int(amount), limit_nano=int(limit))
        before = tuple((int(levels[i]), int(levels[i + 1])) for i in range(0, len(levels), 2))
        return Reservation(
            request_id, tuple(caps), int(amount), downgraded=bool(flag), levels=before, reused=bool(index)
        )

    @contextlib.asynccontextmanager
    async def holding(self, reservation: Reservation) -> AsyncIterator[None]:
        """Keep the reservation's lease alive while its provider call runs."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_s / 3)
                with contextlib.suppress(RedisError):
                    await self.client.zadd(
                        keys.RESERVATIONS, {reservation.request_id: self._lease_end_ms()}, xx=True
                    )

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()

    async def settle(self, reservation: Reservation, actual_nano: int) -> None:
        """Replace the estimate by the exact cost on every counter, once."""
        request_id = reservation.request_id
        try:
            await self._settle(
                keys=[keys.reservation(request_id), keys.RESERVATIONS], args=[actual_nano, request_id]
            )
        except RedisError as exc:
            # The lease lapses and `reap` refunds the estimate: the cap forgets this cost rather
            # than keep an estimate that was never spent.
            logger.error("could not settle %d nano-USD for %s: %s", actual_nano, request_id, exc)

    async def reap(self, limit: int = 1000) -> int:
        """Refund reservations whose lease lapsed; how many. Any worker may run it, any time."""
        now_ms = int(time.time() * 1000)
        try:
            return int(await self._reap(keys=[keys.RESERVATIONS], args=[now_ms, limit, keys.reservation("")]))
        except RedisError as exc:
            logger.warning("could not refund lapsed reservations: %s", exc)
            return 0

    async def first_alert(self, cap: Cap, level: str) -> bool:
        """True the first time a cap crosses `level` in its window (one alert, not one per request)."""
        try:
            return bool(await self.client.set(keys.cap_alerted(cap, level), b"1", nx=True, ex=cap.ttl_s))
        except RedisError:
            return False

    async def spent(self, caps: Sequence[Cap]) -> list[tuple[Cap, int, int]]:
        """(cap, spent, limit) for each cap, overrides applied."""
        out = []
        for cap in caps:
            spent = int(await self.client.get(keys.spend_counter(cap)) or 0)
            override = await self.client.hget(
                keys.spend_limits(cap.scope, cap.subject), keys.limit_field(cap)
            )
            out.append((cap, spent, int(override) if override is not None else cap.default_limit_nano))
        return out

    async def set_limit(
        self, scope: Scope, subject: str, day_usd: float | None, month_usd: float | None
    ) -> None:
        for field, usd in (("day_nano", day_usd), ("month_nano", month_usd)):
            if usd is not None:
                await self.client.hset(keys.spend_limits(scope, subject), field, usd_to_nano(usd))

    async def reset(self, scope: Scope, subject: str, limits_too: bool = False) -> int:
        """Forget what a user or org has spent (and its overrides); the number of keys removed."""
        found = [key async for key in self.client.scan_iter(match=keys.spend_counters_of(scope, subject))]
        if limits_too:
            found.append(keys.spend_limits(scope, subject))
        return int(await self.client.delete(*found)) if found else 0
