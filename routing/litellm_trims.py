"""Per-call work inside LiteLLM that the pipeline does not read, skipped for the pipeline's own calls.

A trim applies only to calls whose metadata asks for it (the gateway sets the key); every other
LiteLLM call in the process keeps LiteLLM's full behaviour. What each saved, and how it was
measured, is in README (section "What the profile showed and what was cut").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litellm.litellm_core_utils.litellm_logging import Logging

# Metadata key: the caller prices the answer itself, so LiteLLM need not.
PRICED_BY_CALLER = "mobius_priced_by_caller"
# LiteLLM features that read LiteLLM's own response_cost: with any of them configured, no trim.
COST_READERS = ("provider_budget_config", "max_budget", "budget_duration")
_TRIMMED = "_mobius_trimmed"


def reads_litellm_cost(router_settings: dict[str, Any], deployments: list[dict[str, Any]]) -> bool:
    """Whether this Router's config uses LiteLLM's response_cost (budget routing, deployment budgets)."""
    if any(router_settings.get(key) for key in COST_READERS):
        return True
    return any(d["litellm_params"].get(key) for d in deployments for key in COST_READERS)


def _priced_by_caller(logging_obj: Any) -> bool:
    params = getattr(logging_obj, "litellm_params", None) or {}
    metadata = params.get("metadata") or {}
    return isinstance(metadata, dict) and metadata.get(PRICED_BY_CALLER) is True


def skip_litellm_response_cost() -> None:
    """LiteLLM prices every answer from its price map (`completion_cost`, for the response headers
    and again for success logging: ~20% of `litellm.acompletion`'s samples under py-spy, 0.3-0.7 ms
    of CPU a call in noisy in-process runs). The gateway prices the same
    answer itself, exactly, in nano-dollars from the same map, and never reads LiteLLM's float.
    For calls marked PRICED_BY_CALLER, response_cost is None, as LiteLLM reports it for an answer
    it cannot price. Idempotent."""
    original: Callable[..., float | None] = Logging.response_cost_calculator
    if getattr(original, _TRIMMED, False):
        return

    def response_cost_calculator(self: Any, *args: Any, **kwargs: Any) -> float | None:
        if _priced_by_caller(self):
            return None
        return original(self, *args, **kwargs)

    setattr(response_cost_calculator, _TRIMMED, True)
    Logging.response_cost_calculator = response_cost_calculator  # type: ignore[method-assign]
