"""The reply store on the session's Redis: a put is read back whole and expires, a put survives a
Redis that lost its scripts, and a Redis that is away costs a warning, not the worker."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from redis.asyncio import Redis

from infra.ports import pick_free_port
from mobius.settings import MobiusSettings
from streams.stores import keys
from streams.stores.connection import redis_client
from streams.stores.replies import RedisReplyStore


def test_a_put_is_read_back_and_expires(stack_settings: MobiusSettings) -> None:
    async def scenario() -> tuple[tuple[bytes, bytes] | None, int, tuple[bytes, bytes] | None, object]:
        client = redis_client(stack_settings.redis)
        try:
            store = RedisReplyStore(client, ttl_s=600)
            request_id = f"replies-{uuid.uuid4().hex}"
            await store.put(request_id, b"the reply", b"the completion")
            stored = await store.get(request_id)
            ttl = int(await client.ttl(keys.answered(request_id)))
            await client.script_flush()  # a restarted Redis has no scripts: the put loads its own again
            again = f"replies-{uuid.uuid4().hex}"
            await store.put(again, b"second reply", b"second completion")
            reloaded = await store.get(again)
            kind = await client.type(keys.answered(again))
            return stored, ttl, reloaded, kind
        finally:
            await client.aclose()

    stored, ttl, reloaded, kind = asyncio.run(scenario())
    assert stored == (b"the reply", b"the completion")
    assert 0 < ttl <= 600
    assert reloaded == (b"second reply", b"second completion")
    assert kind == b"hash"  # what `get` (and a worker of the previous release) reads


def test_a_redis_that_is_away_costs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> tuple[bytes, bytes] | None:
        client = Redis(host="127.0.0.1", port=pick_free_port(), socket_connect_timeout=1)
        try:
            store = RedisReplyStore(client)
            await store.put("away", b"reply", b"completion")
            return await store.get("away")
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING, logger="mobius.reply_store"):
        assert asyncio.run(scenario()) is None
    assert "not remembered" in caplog.text
