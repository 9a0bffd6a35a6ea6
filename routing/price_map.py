"""LiteLLM's bundled price map, read as data (importing litellm costs seconds; this costs ~50 ms)."""

from __future__ import annotations

import importlib.util
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any


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
