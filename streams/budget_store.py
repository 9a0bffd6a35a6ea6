"""Redis adapter for spend caps: check-and-reserve and settle, each one atomic step.

The reservation is a Lua script, so the read of every counter, the near-cap decision, the limit
check and the increments happen with no other request in between, whichever worker sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis import RedisError
from redis.asyncio import Redis

from routing.budgets import Cap, CapExceeded, Reservation, Scope, usd_to_nano

logger = logging.getLogger("mobius.budgets")

# KEYS: per cap, its spend counter then its override hash.
# ARGV: primary estimate, cheaper estimate, near-cap share, then per cap: default limit, override
#       field, counter ttl. Returns {downgraded, 0, reserved, 0, spent_1, limit_1, spent_2, ...}
#       (spent before this reservation) or {-1, cap index, spent, limit}.
_RESERVE = """
local primary = tonumber(ARGV[1])
local cheaper = tonumber(ARGV[2])
local near = tonumber(ARGV[3])
local n = #KEYS / 2
local spent, limits = {}, {}
for i = 1, n do
  local base = 3 + (i - 1) * 3
  local override = redis.call('HGET', KEYS[2 * i], ARGV[base + 2])
  limits[i] = tonumber(override or ARGV[base + 1])
  spent[i] = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
end
local amount, downgraded = primary, 0
for i = 1, n do
  if spent[i] + primary > limits[i] * near then amount, downgraded = cheaper, 1 end
end
for i = 1, n do
  if spent[i] + amount > limits[i] then return {-1, i, spent[i], limits[i]} end
end
local result = {downgraded, 0, amount, 0}
for i = 1, n do
  redis.call('INCRBY', KEYS[2 * i - 1], amount)
  redis.call('EXPIRE', KEYS[2 * i - 1], tonumber(ARGV[3 + (i - 1) * 3 + 3]))
  result[#result + 1] = spent[i]
  result[#result + 1] = limits[i]
end
return result
"""


class BudgetUnavailable(Exception):
    """Redis could not be asked; the policy decides whether that refuses the request."""


class RedisBudgetStore:
    def __init__(self, client: Redis, near_cap_share: float) -> None:
        self.client = client
        self.near_cap_share = near_cap_share
        self._reserve = client.register_script(_RESERVE)

    async def reserve(
        self, caps: Sequence[Cap], primary_nano: int, cheaper_nano: int
    ) -> Reservation | CapExceeded:
        keys: list[str] = []
        args: list[str | int] = [primary_nano, cheaper_nano, repr(self.near_cap_share)]
        for cap in caps:
            keys += [cap.counter_key, cap.override_key]
            args += [cap.default_limit_nano, _override_field(cap.period), cap.ttl_s]
        try:
            flag, index, amount, limit, *levels = await self._reserve(keys=keys, args=args)
        except RedisError as exc:
            raise BudgetUnavailable(str(exc)) from exc
        if int(flag) < 0:
            return CapExceeded(caps[int(index) - 1], spent_nano=int(amount), limit_nano=int(limit))
        before = tuple((int(levels[i]), int(levels[i + 1])) for i in range(0, len(levels), 2))
        return Reservation(tuple(caps), int(amount), downgraded=bool(flag), levels=before)

    async def first_alert(self, cap: Cap, level: str) -> bool:
        """True the first time a cap crosses `level` in its window (one alert, not one per request)."""
        try:
            return bool(
                await self.client.set(f"{cap.counter_key}:alerted:{level}", b"1", nx=True, ex=cap.ttl_s)
            )
        except RedisError:
            return False

    async def settle(self, reservation: Reservation, actual_nano: int) -> None:
        """Replace the estimate by the exact cost on every counter."""
        delta = actual_nano - reservation.amount_nano
        if delta == 0 or not reservation.caps:
            return
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                for cap in reservation.caps:
                    pipe.incrby(cap.counter_key, delta)
                await pipe.execute()
        except RedisError as exc:
            logger.error(
                "could not settle %d nano-USD on %s: %s",
                delta,
                [c.counter_key for c in reservation.caps],
                exc,
            )

    async def spent(self, caps: Sequence[Cap]) -> list[tuple[Cap, int, int]]:
        """(cap, spent, limit) for each cap, overrides applied."""
        out = []
        for cap in caps:
            spent = int(await self.client.get(cap.counter_key) or 0)
            override = await self.client.hget(cap.override_key, _override_field(cap.period))
            out.append((cap, spent, int(override) if override is not None else cap.default_limit_nano))
        return out

    async def set_limit(
        self, scope: Scope, subject: str, day_usd: float | None, month_usd: float | None
    ) -> None:
        key = f"mobius:budget:{scope}:{subject}"
        for field, usd in (("day_nano", day_usd), ("month_nano", month_usd)):
            if usd is not None:
                await self.client.hset(key, field, usd_to_nano(usd))

    async def reset(self, scope: Scope, subject: str, limits_too: bool = False) -> int:
        """Forget what a user or org has spent (and its overrides); the number of keys removed."""
        keys = [key async for key in self.client.scan_iter(match=f"mobius:spend:{scope}:{subject}:*")]
        if limits_too:
            keys.append(f"mobius:budget:{scope}:{subject}")
        return int(await self.client.delete(*keys)) if keys else 0


def _override_field(period: str) -> str:
    return f"{period}_nano"
