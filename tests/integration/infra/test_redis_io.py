import asyncio

import redis.asyncio as aioredis

from streams.settings import MobiusSettings


async def test_set_get_and_expiry(stack_settings: MobiusSettings, unique: str) -> None:
    client = aioredis.from_url(stack_settings.redis_url)
    try:
        key = f"test:{unique}"
        assert await client.set(key, "value", px=300)
        assert await client.get(key) == b"value"
        async with asyncio.timeout(5):
            while await client.exists(key):
                await asyncio.sleep(0.05)
        assert await client.get(key) is None
        assert await client.incrbyfloat(f"{key}:n", 1.5) == 1.5
    finally:
        await client.aclose()
