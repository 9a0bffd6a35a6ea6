"""The pipeline over a Redis that requires a password, as an ACL user with limited rights."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from infra.ports import pick_free_port
from mobius.settings import MobiusSettings
from mobius.stack import LocalStack
from streams.client import MobiusClient
from streams.stores import keys
from streams.stores.connection import redis_client
from tests.support.pipeline import running_pipeline

PASSWORD = f'pw with spaces "and quotes" {uuid.uuid4().hex}'


@pytest.fixture(scope="module")
def protected(
    stack_settings: MobiusSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MobiusSettings]:
    """The session's Kafka, and a Redis of its own started by the stack with a user and password."""
    state: Path = tmp_path_factory.mktemp("redis-auth")
    settings = stack_settings.model_copy(
        update={
            "redis_url": f"redis://mobius-worker@127.0.0.1:{pick_free_port()}/0",
            "redis_password": SecretStr(PASSWORD),
            "state_dir": state,
        }
    )
    server = LocalStack(settings).redis
    assert server is not None
    server.start()
    try:
        yield settings
    finally:
        server.stop()


def _port(settings: MobiusSettings) -> int:
    return settings.redis_host_port[1]


def test_strangers_and_wrong_passwords_are_refused(protected: MobiusSettings) -> None:
    port = _port(protected)
    anonymous = redis.Redis(port=port, socket_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        anonymous.get("x")
    wrong = redis.Redis(port=port, username="mobius-worker", password="guess", socket_timeout=2)  # noqa: S106
    with pytest.raises(redis.AuthenticationError):
        wrong.get("x")
    worker = redis.Redis(port=port, username="mobius-worker", password=PASSWORD, socket_timeout=2)
    assert worker.set("mobius:probe", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        worker.flushall()  # the pipeline's user cannot wipe or reconfigure the server
    with pytest.raises(redis.exceptions.NoPermissionError):
        worker.config_set("requirepass", "")
    for client in (anonymous, wrong, worker):
        client.close()
    conf = protected.state_dir / "redis" / "redis.conf"
    assert conf.stat().st_mode & 0o077 == 0  # the password is in it: owner-only


def test_the_pipeline_answers_and_keeps_its_state_in_the_protected_redis(protected: MobiusSettings) -> None:
    with running_pipeline(protected) as pipeline:

        async def ask_and_look() -> None:
            async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
                reply = await client.ask(
                    [{"role": "user", "content": "What is the capital of Peru?"}],
                    user_id="u-auth",
                    org_id="acme-auth",
                    tier="pro",
                    timeout=90,
                )
            assert reply.status == "ok", reply
            store = redis_client(pipeline.settings.redis)
            try:
                assert await store.exists(keys.answered(reply.request_id))  # the reply store wrote it
                spend = [k async for k in store.scan_iter(match="mobius:spend:org:acme-auth:*")]
                assert spend  # and the budget counters
                litellm = [k async for k in store.scan_iter() if not k.startswith(b"mobius:")]
                assert litellm  # and LiteLLM's Router its rpm/tpm counters, as the same user
            finally:
                await store.aclose()

        asyncio.run(ask_and_look())
