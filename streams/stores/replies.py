"""Redis adapter for the pipeline's ReplyStore: one hash per answered request, kept for a day."""

from __future__ import annotations

import logging

from redis import RedisError
from redis.asyncio import Redis

from streams.stores import keys

logger = logging.getLogger("mobius.reply_store")


class RedisReplyStore:
    """The pipeline's ReplyStore: one hash per answered request, kept for `ttl_s`."""

    def __init__(self, client: Redis, ttl_s: int = 86400) -> None:
        self.client = client
        self.ttl_s = ttl_s

    async def get(self, request_id: str) -> tuple[bytes, bytes] | None:
        try:
            reply, completion = await self.client.hmget(keys.answered(request_id), ["reply", "completion"])
        except RedisError as exc:
            # Without Redis a redelivered query is routed again: billed twice, but answered.
            logger.warning("reply store unavailable, cannot check %s for a repeat: %s", request_id, exc)
            return None
        if not isinstance(reply, bytes) or not isinstance(completion, bytes):
            return None
        return reply, completion

    async def put(self, request_id: str, reply: bytes, completion: bytes) -> None:
        key = keys.answered(request_id)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"reply": reply, "completion": completion})
                pipe.expire(key, self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("reply store unavailable, %s not remembered: %s", request_id, exc)
