"""LiteLLM's bundled price map, read as data (importing litellm costs seconds; this costs ~50 ms)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from routing.router_config import RouterConfig


@cache
def price_map() -> dict[str, dict[str, Any]]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("LiteLLM's price map is needed; install litellm")
    path = Path(spec.submodule_search_locations[0]) / "model_prices_and_context_window_backup.json"
    data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return data


def model_info(model: str) -> dict[str, Any]:
    """The map's entry for `provider/model` or `model`; empty when unknown."""
    for key in (model, model.split("/", 1)[-1]):
        if key in price_map():
            return price_map()[key]
    return {}


def token_prices(params: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """USD per input and output token for a deployment's litellm_params (explicit prices win)."""
    if "input_cost_per_token" in params:
        return Decimal(str(params["input_cost_per_token"])), Decimal(
            str(params.get("output_cost_per_token", 0))
        )
    info = model_info(str(params["model"]))
    return Decimal(str(info.get("input_cost_per_token") or 0)), Decimal(
        str(info.get("output_cost_per_token") or 0)
    )


def group_prices(config: RouterConfig) -> dict[str, tuple[Decimal, Decimal]]:
    """USD per input and output token of each model group: the mean of its deployments (the
    default simple-shuffle spreads calls evenly over them)."""
    prices: dict[str, list[tuple[Decimal, Decimal]]] = {}
    for deployment in config.model_list:
        prices.setdefault(deployment.model_name, []).append(token_prices(deployment.litellm_params))
    return {
        group: (
            sum((p[0] for p in each), Decimal(0)) / len(each),
            sum((p[1] for p in each), Decimal(0)) / len(each),
        )
        for group, each in prices.items()
    }


def group_windows(config: RouterConfig) -> dict[str, int]:
    """The largest context window of each group (what the policy routes by), from the price map."""
    windows: dict[str, int] = {}
    for deployment in config.model_list:
        info = model_info(str(deployment.litellm_params["model"]))
        window = int(info.get("max_input_tokens") or info.get("max_tokens") or 8192)
        windows[deployment.model_name] = max(windows.get(deployment.model_name, 0), window)
    return windows


def route_cost(
    prices: Mapping[str, tuple[Decimal, Decimal]], group: str, prompt_tokens: int, output_tokens: int
) -> Decimal:
    """USD of one call to `group` at its mean prices (0 for a group without prices, e.g. refused)."""
    if group not in prices:
        return Decimal(0)
    per_in, per_out = prices[group]
    return per_in * prompt_tokens + per_out * output_tokens
