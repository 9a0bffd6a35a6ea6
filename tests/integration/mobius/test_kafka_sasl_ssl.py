"""The local stack with a SASL_SSL Kafka (SCRAM-SHA-512 over TLS, certificates made at start): a
worker, the client and the sink work through it; wrong credentials, an untrusted certificate or a
plaintext client fail within seconds, saying why."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from infra.ports import pick_free_port
from mobius.fleet import SinkProcess
from mobius.settings import MobiusSettings, settings_env
from streams.client import MobiusClient
from streams.config import KafkaConfig, KafkaSecurity
from streams.kafka_options import KafkaAccessError
from tests.support.cli import local_settings, run_mobius
from tests.support.pipeline import running_pipeline

# Spaces, quotes, a backslash, a comma and a non-ASCII letter: every layer must pass it unchanged.
PASSWORD = f'p w "q" \\ é,= {uuid.uuid4().hex}'
USER = "mobius-app"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MobiusSettings]:
    """A stack of its own whose Kafka serves only SASL_SSL with a SCRAM-SHA-512 user."""
    security = KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=USER,
        sasl_password=SecretStr(PASSWORD),
    )
    settings = local_settings(
        tmp_path_factory.mktemp("kafka-sasl-ssl"),
        kafka_security=security,
        analytics_query_port=pick_free_port(),
    )
    env = settings_env(settings)
    up = run_mobius("up", env=env)  # as a user runs it, with the MOBIUS_KAFKA_SECURITY__ variables
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "created topics: mobius.queries" in up.stdout  # the admin client got in
        yield settings
    finally:
        down = run_mobius("down", env=env)
        assert down.returncode == 0, down.stderr


def _with(settings: MobiusSettings, **security: object) -> MobiusSettings:
    changed = settings.kafka_security.model_copy(update=security)
    return settings.model_copy(update={"kafka_security": changed})


async def _client_error(kafka: KafkaConfig, settings: MobiusSettings) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(KafkaAccessError) as caught:
        async with MobiusClient(kafka, settings.topics):
            pass
    return str(caught.value), time.monotonic() - started


def test_clients_trust_the_generated_ca_and_keys_are_owner_only(secured: MobiusSettings) -> None:
    kafka_dir = secured.state_dir / "kafka"
    assert secured.kafka.security.ssl_cafile == kafka_dir / "tls" / "ca.pem"
    for private in ("tls/ca.key", "tls/server-keystore.pem", "server.properties"):
        assert (kafka_dir / private).stat().st_mode & 0o077 == 0, private
    assert "BEGIN PRIVATE KEY" not in secured.kafka.security.ssl_cafile.read_text()
    status = run_mobius("status", env=settings_env(secured))
    assert status.returncode == 0, status.stdout
    assert "SASL_SSL SCRAM-SHA-512" in status.stdout and PASSWORD not in status.stdout
    for log in kafka_dir.glob("*.log"):
        assert PASSWORD not in log.read_text(errors="replace")


def test_a_worker_the_client_and_the_sink_work_through_sasl_ssl(secured: MobiusSettings) -> None:
    with running_pipeline(secured) as pipeline:
        sink = SinkProcess(pipeline.settings)
        sink.start()
        try:

            async def ask() -> str:
                async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
                    reply = await client.ask(
                        [{"role": "user", "content": "What is the capital of Chile?"}],
                        user_id="u-sasl",
                        tier="pro",
                        timeout=90,
                    )
                assert reply.status == "ok", reply
                return reply.request_id

            request_id = asyncio.run(ask())
            env = settings_env(pipeline.settings)
            sql = f"SELECT count() AS n FROM completions WHERE request_id = '{request_id}'"
            deadline = time.monotonic() + 90
            while True:
                result = run_mobius("sql", sql, "--json", env=env)
                if result.returncode == 0 and json.loads(result.stdout)[0]["n"] == 1:
                    break
                assert sink.process.is_running(), sink.process.log_tail()
                assert time.monotonic() < deadline, result.stdout + result.stderr
                time.sleep(0.5)
        finally:
            assert sink.stop()
        for worker in pipeline.workers:
            assert PASSWORD not in worker.process.log_tail()


def test_a_wrong_password_fails_fast_naming_the_login(secured: MobiusSettings) -> None:
    wrong = _with(secured, sasl_password=SecretStr("not-the-password"))
    message, took = asyncio.run(_client_error(wrong.kafka, wrong))
    assert "authentication failed" in message and USER in message and "SASL_PASSWORD" in message
    assert took < 5, took
    assert "not-the-password" not in message


def test_a_plaintext_or_untrusting_client_is_refused(secured: MobiusSettings) -> None:
    plaintext = KafkaConfig(bootstrap_servers=secured.kafka_bootstrap_servers)
    message, took = asyncio.run(_client_error(plaintext, secured))
    assert "another security protocol than PLAINTEXT" in message and took < 5
    no_sasl = KafkaConfig(
        bootstrap_servers=secured.kafka_bootstrap_servers,
        security=KafkaSecurity(protocol="SSL", ssl_cafile=secured.kafka.security.ssl_cafile),
    )
    message, took = asyncio.run(_client_error(no_sasl, secured))
    assert "another security protocol than SSL" in message and took < 5
    system_trust = KafkaConfig(
        bootstrap_servers=secured.kafka_bootstrap_servers,
        security=secured.kafka.security.model_copy(update={"ssl_cafile": None}),
    )
    message, took = asyncio.run(_client_error(system_trust, secured))
    assert "does not trust" in message and "SSL_CAFILE" in message and took < 5


@pytest.mark.parametrize("command", [["ask", "hello?"], ["worker"], ["sink"]], ids=["ask", "worker", "sink"])
def test_cli_commands_with_a_wrong_password_exit_with_one_clear_line(
    secured: MobiusSettings, command: list[str], tmp_path: Path
) -> None:
    wrong = _with(secured, sasl_password=SecretStr("guessed"))
    # A provider key: the worker gets past its provider check to the Kafka one (nothing is called).
    # A state directory of its own: the sink's ClickHouse path (the CA file is named explicitly).
    env = {**settings_env(wrong), "OPENAI_API_KEY": "sk-unused", "MOBIUS_STATE_DIR": str(tmp_path)}
    assert env["MOBIUS_KAFKA_SECURITY__SSL_CAFILE"] == str(secured.kafka.security.ssl_cafile)
    started = time.monotonic()
    result = run_mobius(*command, env=env, timeout=60)
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "cannot use Kafka" in result.stderr and "authentication failed" in result.stderr, output
    assert "Traceback" not in output and "guessed" not in output
    assert took < 30, took  # the CLI's own start-up (LiteLLM's import for the worker) is most of it
