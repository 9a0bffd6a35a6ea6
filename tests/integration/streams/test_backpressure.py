"""Every deployment a burst could reach answers 429: the worker holds the queries and answers each
once capacity returns (one alert for the episode), instead of turning the burst into errors."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import yaml

from mobius.settings import DEFAULT_ROUTER_CONFIG, MobiusSettings
from schemas.events import ReplyEvent, decode_alert
from streams.client import MobiusClient
from tests.support.pipeline import read_until, running_pipeline, topic_reader, wait_until_serving

MODELS = ("gpt-4o-mini", "claude-haiku-4-5", "claude-sonnet-4-5", "gpt-4o", "gpt-4.1-mini")


def _config(tmp_path: Path, **backpressure: float) -> Path:
    config = yaml.safe_load(DEFAULT_ROUTER_CONFIG.read_text())
    config["mobius"]["backpressure"] = backpressure
    config["router_settings"]["cooldown_time"] = 1  # LiteLLM's cooldown, short for the test
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_saturated_burst_is_held_and_answered_not_failed(
    stack_settings: MobiusSettings, tmp_path: Path
) -> None:
    with running_pipeline(stack_settings, router_config=_config(tmp_path)) as pipeline:
        settings = pipeline.settings

        async def burst() -> tuple[list[ReplyEvent], list[str]]:
            async with (
                MobiusClient(settings.kafka, settings.topics) as client,
                topic_reader(settings, settings.topics.alerts) as alerts,
            ):
                await wait_until_serving(client)
                # Two calls per model per 2 s: far below what 24 queries at once ask for.
                pipeline.simulator.controls(rpm=dict.fromkeys(MODELS, 2), rate_window_s=2)
                replies = await asyncio.gather(
                    *(
                        client.ask(
                            [{"role": "user", "content": f"What is {i} plus {i}?"}],
                            user_id=f"burst-{i}",
                            tier="pro",
                            timeout=120,
                        )
                        for i in range(24)
                    )
                )
                kinds: list[str] = []
                deadline = asyncio.get_running_loop().time() + 30
                while "group_saturated" not in kinds and asyncio.get_running_loop().time() < deadline:
                    with contextlib.suppress(TimeoutError):
                        kinds += [decode_alert(r.value).kind for r in await read_until(alerts, 1, timeout=2)]
                return replies, kinds

        replies, kinds = asyncio.run(burst())
        seen = pipeline.simulator.requests()

    assert sum(seen.get(m, {}).get("rate_limited", 0) for m in MODELS) > 0, seen  # capacity did run out
    assert [r.error_code for r in replies if r.status != "ok"] == []
    assert "group_saturated" in kinds
