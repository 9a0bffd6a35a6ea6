"""`mobius chaos`: break the running pipeline one part at a time under steady load, and count.

Runs on the local stack (started if needed) with a pipeline of its own (mobius/tools/chaos_rig.py)
and prints one object per scenario (mobius/tools/chaos_scenarios.py), `lost` and `duplicated`
first. A scenario that could not run says why in `error`; the others still run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from mobius.settings import MobiusSettings
from mobius.tools.chaos_rig import ChaosRig
from mobius.tools.chaos_scenarios import SCENARIOS, ChaosOptions
from streams.client import MobiusClient

logger = logging.getLogger("mobius.chaos")


def run_chaos(settings: MobiusSettings, options: ChaosOptions, only: list[str]) -> list[dict[str, Any]]:
    """Every scenario in `only` (all when empty), in the suite's order."""
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"no scenario {', '.join(unknown)}; the scenarios are {', '.join(SCENARIOS)}")
    rig = ChaosRig(settings)
    rig.start()
    try:
        return asyncio.run(_run_all(rig, options, [name for name in SCENARIOS if not only or name in only]))
    finally:
        rig.stop()


async def _run_all(rig: ChaosRig, options: ChaosOptions, names: list[str]) -> list[dict[str, Any]]:
    results = []
    async with MobiusClient(rig.settings.kafka, rig.settings.topics) as client:
        warm = await client.ask(
            [{"role": "user", "content": "ping"}], user_id="chaos-warm", tier="pro", timeout=120
        )
        if warm.status != "ok":
            raise RuntimeError(f"the chaos pipeline does not answer: {warm.error_message}")
        for name in names:
            started = time.monotonic()
            try:
                figures = await SCENARIOS[name](rig, client, options)
            except Exception as exc:  # one scenario failing must not hide the others' figures
                logger.exception("chaos scenario %s failed", name)
                figures = {"error": f"{type(exc).__name__}: {exc}"}
            results.append({"scenario": name} | figures | {"seconds": round(time.monotonic() - started, 1)})
    return results
