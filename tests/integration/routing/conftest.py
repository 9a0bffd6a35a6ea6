"""LiteLLM's real Router against the provider simulator, in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

from infra.ports import pick_free_port
from infra.simulator.launcher import Simulator
from routing.attempts import AttemptLog
from routing.llm_gateway import LLMGateway
from tests.support.router_configs import patient_config


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    running = Simulator(pick_free_port(), tmp_path_factory.mktemp("simulator"))
    running.start(latency_scale=0.01)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def gateway(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LLMGateway]:
    simulator.reset()
    simulator.controls(latency_scale=0.01)
    for name, value in simulator.provider_env().items():
        monkeypatch.setenv(name, value)
    gateway = LLMGateway(patient_config(), AttemptLog())
    yield gateway
    await gateway.aclose()
    await close_litellm_async_clients()  # this test's loop ends: its HTTP connections with it
