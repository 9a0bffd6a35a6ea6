"""Checking every deployment with a one-token call, directly (no retries, no fallbacks)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import litellm

from routing.errors import error_code

PROBE = [{"role": "user", "content": "Reply with the word ok."}]


@dataclass(frozen=True)
class DeploymentHealth:
    """One deployment's answer to a one-token health call."""

    group: str
    model: str
    healthy: bool
    latency_ms: int
    error: str = ""


async def check_deployment(deployment: dict[str, Any], timeout_s: float) -> DeploymentHealth:
    params = {k: v for k, v in deployment["litellm_params"].items() if k not in ("rpm", "tpm")}
    started = time.perf_counter()
    try:
        await litellm.acompletion(
            **params, messages=PROBE, max_tokens=1, timeout=timeout_s, num_retries=0, drop_params=True
        )
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to report, not a reason to stop
        latency = int((time.perf_counter() - started) * 1000)
        message = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return DeploymentHealth(
            deployment["model_name"], params["model"], False, latency, f"{error_code(exc)}: {message}"
        )
    return DeploymentHealth(
        deployment["model_name"], params["model"], True, int((time.perf_counter() - started) * 1000)
    )


async def check_all(deployments: list[dict[str, Any]], timeout_s: float = 10.0) -> list[DeploymentHealth]:
    return list(await asyncio.gather(*(check_deployment(d, timeout_s) for d in deployments)))


def groups_down(results: list[DeploymentHealth]) -> list[str]:
    """Groups none of whose deployments answered."""
    groups: dict[str, bool] = {}
    for r in results:
        groups[r.group] = groups.get(r.group, False) or r.healthy
    return sorted(g for g, up in groups.items() if not up)
