"""Router configs for tests that run LiteLLM's real Router against the simulator."""

from __future__ import annotations

from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.router_config import RouterConfig, load_router_config


def patient_config() -> RouterConfig:
    """The default config; tests take a deployment down, so enough retries that the shuffle finds
    the other one every time."""
    config = load_router_config(DEFAULT_ROUTER_CONFIG)
    return config.model_copy(update={"router_settings": config.router_settings | {"num_retries": 8}})
