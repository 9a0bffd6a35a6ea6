"""Redis adapter for the response cache, with one provider call per burst of identical queries.

`single_flight(key, ttl, compute)`: the first caller to miss claims the key (SET NX with a short
lease, renewed while its computation runs) and computes; identical queries arriving meanwhile, on
any worker, wait for its answer instead of calling too. If the claimant fails, its lease is
released; if it dies, the lease lapses within `lease_s`; either way one waiter goes ahead.
Redis unavailable: the cache is bypassed, never a reason to fail a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass

from redis import RedisError
from redis.asyncio import Redis

from routing.outcomes import LLMResult
from streams.pipeline.ports import ProviderCall
from streams.stores import keys

logger = logging.getLogger("mobius.cache")


@dataclass(frozen=True)
class CachedAnswer:
    """What the cache keeps of an answer: enough to answer again, nothing about who asked."""

    content: str
    group: str
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int

    @staticmethod
    def of(result: LLMResult) -> CachedAnswer:
        return CachedAnswer(
            result.content,
            result.group,
            result.model,
            result.provider,
            result.prompt_tokens,
            result.completion_tokens,
        )

    def as_result(self) -> LLMResult:
        """A hit costs nothing and calls no provider."""
        return LLMResult(
            content=self.content,
            group=self.group,
            model=self.model,
            provider=self.provider,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_nano_usd=0,
            provider_latency_ms=0,
            attempted_models=(),
            fallbacks=0,
            retries=0,
            cache_hit=True,
        )


class RedisResponseCache:
    """The pipeline's ResponseCache in Redis, shared by every worker."""

    def __init__(self, client: Redis, lease_s: float = 3.0, poll_s: float = 0.05) -> None:
        self.client = client
        self.lease_s = lease_s
        self.poll_s = poll_s

    async def single_flight(
        self, key: str, ttl_s: int, compute: Callable[[], Awaitable[ProviderCall]]
    ) -> ProviderCall | LLMResult:
        """The cached answer (an LLMResult with cache_hit), or what `compute` returned."""
        hit = await self._get(key)
        if hit is None and not await self._claim(key):
            hit = await self._wait_for(key)  # an identical query is with a provider now
        if hit is not None:
            return hit.as_result()
        call: ProviderCall | None = None
        try:
            async with self._renewing(key):
                call = await compute()
        finally:
            if call is not None and isinstance(call.outcome, LLMResult):
                await self._put(key, CachedAnswer.of(call.outcome), ttl_s)
            else:
                await self._release(key)
        return call

    async def _get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self.client.get(keys.cached_answer(key))
        except RedisError as exc:
            logger.warning("cache bypassed, Redis unavailable: %s", exc)
            return None
        return CachedAnswer(**json.loads(raw)) if raw else None

    async def _claim(self, key: str) -> bool:
        """True when this caller should compute (it holds the lease, or Redis is down)."""
        try:
            lease_ms = int(self.lease_s * 1000)
            return bool(await self.client.set(keys.cache_lease(key), b"1", nx=True, px=lease_ms))
        except RedisError:
            return True

    @contextlib.asynccontextmanager
    async def _renewing(self, key: str) -> AsyncIterator[None]:
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_s / 3)
                with contextlib.suppress(RedisError):
                    await self.client.pexpire(keys.cache_lease(key), int(self.lease_s * 1000))

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()

    async def _wait_for(self, key: str) -> CachedAnswer | None:
        """The claimant's answer; or None when its lease lapsed unanswered and this caller has
        claimed it in turn (so, of all the waiters, exactly one computes next)."""
        while True:
            answer = await self._get(key)
            if answer is not None:
                return answer
            if await self._claim(key):
                return await self._get(key)  # None, unless the answer landed just now
            await asyncio.sleep(self.poll_s)

    async def _put(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(keys.cached_answer(key), json.dumps(asdict(answer)), ex=ttl_s)
                pipe.delete(keys.cache_lease(key))
                await pipe.execute()
        except RedisError as exc:
            logger.warning("answer not cached, Redis unavailable: %s", exc)

    async def _release(self, key: str) -> None:
        with contextlib.suppress(RedisError):  # the lease expires by itself
            await self.client.delete(keys.cache_lease(key))
