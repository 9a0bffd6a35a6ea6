"""Per-deployment rpm limits hold across workers: LiteLLM counts them in the shared Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from mobius.settings import DEFAULT_ROUTER_CONFIG, MobiusSettings
from schemas.events import ReplyEvent
from streams.client import MobiusClient
from tests.support.pipeline import running_pipeline, wait_until_serving

RPM = 3


def test_two_workers_together_respect_each_deployments_rpm(
    stack_settings: MobiusSettings, tmp_path: Path
) -> None:
    config = yaml.safe_load(DEFAULT_ROUTER_CONFIG.read_text())
    for deployment in config["model_list"]:
        if deployment["model_name"] == "fast":
            deployment["litellm_params"]["rpm"] = RPM
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(config))

    with running_pipeline(stack_settings, workers=2, router_config=path) as pipeline:

        async def burst() -> list[ReplyEvent]:
            async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
                await wait_until_serving(client)  # a pro "ping": the fast group, one request used
                pipeline.simulator.reset()
                return await asyncio.gather(
                    *(
                        client.ask(
                            [{"role": "user", "content": f"What is {i} times {i}?"}],
                            user_id=f"user-{i}",
                            tier="pro",
                            timeout=60,
                        )
                        for i in range(16)
                    )
                )

        replies = asyncio.run(burst())
        seen = pipeline.simulator.requests()

    fast_calls = sum(seen.get(m, {}).get("ok", 0) for m in ("gpt-4o-mini", "claude-haiku-4-5"))
    # Two deployments at 3 rpm: at most 6 calls this minute whichever worker made them
    # (without shared counters two workers could make 12).
    assert fast_calls <= 2 * RPM
    assert all(r.status == "ok" for r in replies), {r.error_code for r in replies}
    assert sum(r.model_group == "smart" for r in replies) >= 16 - 2 * RPM  # fast: [smart] took the rest
