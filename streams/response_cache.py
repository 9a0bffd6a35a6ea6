"""Redis adapter for the response cache, with one provider call per burst of identical queries.

The first worker to miss claims the key (SET NX with a short lease, renewed while its provider call
runs) and calls the provider; identical queries arriving meanwhile, on any worker, wait for its
answer instead of calling too. If the claimant fails, its lease is released; if it dies, the lease
lapses within `lease_s`; either way the waiters go ahead themselves. Redis unavailable:
the cache is bypassed, never a reason to fail a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

from redis import RedisError
from redis.asyncio import Redis

from routing.outcomes import LLMResult

logger = logging.getLogger("mobius.cache")
PREFIX = "mobius:cache:"


@dataclass(frozen=True)
class CachedAnswer:
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
    def __init__(self, client: Redis, lease_s: float = 3.0, poll_s: float = 0.05) -> None:
        self.client = client
        self.lease_s = lease_s
        self.poll_s = poll_s

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self.client.get(PREFIX + key)
        except RedisError as exc:
            logger.warning("cache bypassed, Redis unavailable: %s", exc)
            return None
        return CachedAnswer(**json.loads(raw)) if raw else None

    async def claim(self, key: str) -> bool:
        """True when this caller should ask the provider (it holds the lease, or Redis is down)."""
        try:
            return bool(
                await self.client.set(PREFIX + "lease:" + key, b"1", nx=True, px=int(self.lease_s * 1000))
            )
        except RedisError:
            return True

    @contextlib.asynccontextmanager
    async def renewing(self, key: str) -> AsyncIterator[None]:
        """Keep the lease alive while the claimant's provider call runs."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_s / 3)
                with contextlib.suppress(RedisError):
                    await self.client.pexpire(PREFIX + "lease:" + key, int(self.lease_s * 1000))

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()

    async def wait_for(self, key: str) -> CachedAnswer | None:
        """The claimant's answer; or None when its lease lapsed unanswered and this caller has
        claimed it in turn (so, of all the waiters, exactly one goes to the provider next)."""
        while True:
            answer = await self.get(key)
            if answer is not None:
                return answer
            if await self.claim(key):
                return await self.get(key)  # None, unless the answer landed just now
            await asyncio.sleep(self.poll_s)

    async def put(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(PREFIX + key, json.dumps(asdict(answer)), ex=ttl_s)
                pipe.delete(PREFIX + "lease:" + key)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("answer not cached, Redis unavailable: %s", exc)

    async def release(self, key: str) -> None:
        with contextlib.suppress(RedisError):  # the lease expires by itself
            await self.client.delete(PREFIX + "lease:" + key)
