"""Large records take a producer of their own; small ones keep the usual path."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Awaitable
from typing import Any

import pytest

from infra.ports import pick_free_port
from streams.config import KafkaConfig
from streams.large_records import LARGE_RECORD_BYTES, LargeRecordProducer, sending_large_apart
from streams.outgoing import Outgoing


class FakeLarge(LargeRecordProducer):
    def __init__(self) -> None:
        super().__init__(KafkaConfig())
        self.sent: list[tuple[str, int, bytes | None]] = []

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, len(value), key))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result("acked")
        return done


async def test_a_record_at_the_threshold_goes_apart_and_a_smaller_one_does_not() -> None:
    usual: list[int] = []

    async def send(record: Outgoing) -> Awaitable[object]:
        usual.append(len(record.value))
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        done.set_result("acked")
        return done

    large = FakeLarge()
    split = sending_large_apart(send, large, {"dlq"})
    await split(Outgoing("dlq", b"k", b"x" * (LARGE_RECORD_BYTES - 1)))
    await split(Outgoing("replies", b"k", b"x" * LARGE_RECORD_BYTES))  # stays behind its chunks
    confirmation = await split(Outgoing("dlq", b"big", b"x" * LARGE_RECORD_BYTES, (("h", b"v"),)))
    assert usual == [LARGE_RECORD_BYTES - 1, LARGE_RECORD_BYTES]
    assert large.sent == [("dlq", LARGE_RECORD_BYTES, b"big")]
    assert await confirmation == "acked"


async def test_a_producer_that_cannot_start_is_closed_and_a_stopped_one_starts_no_more() -> None:
    closed_port = KafkaConfig(bootstrap_servers=f"127.0.0.1:{pick_free_port()}")
    large = LargeRecordProducer(closed_port)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # an unclosed aiokafka producer warns
        with pytest.raises(Exception, match=r"."):
            await large.send("dlq", b"x" * LARGE_RECORD_BYTES)
        gc.collect()
    await large.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        await large.send("dlq", b"x")
