"""Why a Kafka connection was refused, in a sentence naming the setting to look at (no broker:
a closed port and a listener that drops the handshake stand in)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from infra.ports import pick_free_port
from streams.config import KafkaConfig, KafkaSecurity
from streams.kafka_access import check_access, refusal_reason, wait_for_access
from streams.kafka_options import KafkaAccessError, client_options


def test_a_missing_ca_file_is_named_before_any_connection(tmp_path: Path) -> None:
    security = KafkaSecurity(protocol="SSL", ssl_cafile=tmp_path / "nope.pem")
    with pytest.raises(KafkaAccessError, match=r"nope\.pem does not exist.*mobius up"):
        client_options(KafkaConfig(security=security))


def test_a_closed_port_says_nothing_listens() -> None:
    port = pick_free_port()
    reason = asyncio.run(refusal_reason(KafkaConfig(bootstrap_servers=f"127.0.0.1:{port}")))
    assert reason is not None and f"nothing listens on 127.0.0.1:{port}" in reason


def test_a_listener_that_hangs_up_points_at_the_protocol_setting() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def hang_up() -> None:
            server.accept()[0].close()

        async def probe() -> None:
            accepted = asyncio.get_running_loop().run_in_executor(None, hang_up)
            with pytest.raises(KafkaAccessError) as caught:
                await check_access(KafkaConfig(bootstrap_servers=f"127.0.0.1:{port}"), timeout_s=5)
            await accepted
            assert "another security protocol than PLAINTEXT" in str(caught.value)
            assert "MOBIUS_KAFKA_SECURITY__PROTOCOL" in str(caught.value)

        asyncio.run(probe())


def test_a_worker_waits_while_nothing_listens_and_says_so_once() -> None:
    port = pick_free_port()
    told: list[str] = []

    async def probe() -> None:
        waiting = wait_for_access(KafkaConfig(bootstrap_servers=f"127.0.0.1:{port}"), told.append)
        with pytest.raises(TimeoutError):  # still waiting: a broker may start any moment
            await asyncio.wait_for(waiting, timeout=2.5)

    asyncio.run(probe())
    assert len(told) == 1 and "nothing listens" in told[0]


def test_a_refusal_no_retry_cures_ends_the_wait_at_once() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def hang_up() -> None:
            server.accept()[0].close()

        async def probe() -> None:
            accepted = asyncio.get_running_loop().run_in_executor(None, hang_up)
            with pytest.raises(KafkaAccessError, match="another security protocol"):
                await wait_for_access(KafkaConfig(bootstrap_servers=f"127.0.0.1:{port}"), print, timeout_s=5)
            await accepted

        asyncio.run(probe())
