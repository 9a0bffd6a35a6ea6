"""Pipeline benchmark, side by side with LiteLLM's proxy and a bare Router, in one run.

Everything runs on the local stack against one provider simulator, on a copy of the router
config without rpm/tpm limits or spend caps (the bench measures the pipeline, not the limits an
operator chose). The phases, in order:

1. overhead: open loop at `rate` with the simulator at a fixed latency, through the pipeline
   and then through `litellm --config` over HTTP; overhead = client latency - simulator latency.
   Then streamed queries: time to first token through the pipeline beside the simulator's own
   (`mobius/tools/bench_ttft.py`).
2. throughput: closed loop, zero provider latency, one worker; then bare `Router.acompletion`
   in one process; then two workers.
3. concurrency: provider latency 1 s, rising rates; the highest one whose consumer lag holds.
4. lanes: a worker of its own offered twice what it answers, 10% enterprise; enterprise's p99
   against its unloaded p99 (`mobius/tools/bench_lanes.py`).
Worker memory is read before phase 1, after it (warm) and after phase 3 (before the second
worker starts).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import yaml

from infra.errors import ServiceError
from infra.litellm_proxy import LiteLLMProxy, proxy_environment
from infra.ports import pick_free_port
from infra.simulator.launcher import Simulator
from mobius.fleet import Worker, child_env
from mobius.settings import MobiusSettings
from mobius.stack import LocalStack
from mobius.tools.bench_concurrency import max_rate_without_lag_growth
from mobius.tools.bench_kafka import LIGHT_RATE, kafka_floor, light_load_hops
from mobius.tools.bench_lanes import bench_lanes
from mobius.tools.bench_load import TIER, Ask, closed_loop, open_loop, question, summarize
from mobius.tools.bench_ttft import bench_ttft
from streams.client import AskTimeout, MobiusClient
from streams.config import TopicNames
from streams.topics import LagProbe, ensure_topics

CONCURRENCY_LATENCY_MS = 1000


@dataclass(frozen=True)
class BenchOptions:
    """The options of one `mobius bench` run."""

    rate: float = 100.0
    seconds: float = 30.0
    latency_ms: int = 200
    concurrency: int = 64
    with_proxy: bool = True
    profile: Path | None = None  # py-spy output for the worker during the throughput run


def rss_mb(pid: int | None) -> float:
    """Resident memory of a process (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.Error:
        return 0.0


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


@contextmanager
def _profiled(pid: int | None, output: Path | None, seconds: float) -> Iterator[None]:
    """py-spy samples the process meanwhile (a dev dependency; the file's suffix picks the format:
    .svg flamegraph, .json speedscope, anything else collapsed stacks)."""
    if output is None or pid is None:
        yield
        return
    formats = {".svg": "flamegraph", ".json": "speedscope"}
    argv = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--rate", "100"]
    argv += [
        "--duration",
        str(int(seconds)),
        "--format",
        formats.get(output.suffix, "raw"),
        "-o",
        str(output),
    ]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        yield
    finally:
        spy.wait(timeout=seconds + 30)


def unthrottled_config(source: Path, target: Path) -> Path:
    """The router config without rpm/tpm limits, the rate-limit check or spend caps."""
    config = yaml.safe_load(source.read_text())
    for deployment in config["model_list"]:
        for limit in ("rpm", "tpm"):
            deployment["litellm_params"].pop(limit, None)
    checks = config.get("router_settings", {}).get("optional_pre_call_checks") or []
    if "enforce_model_rate_limits" in checks:  # with no limits left it only counts
        checks.remove("enforce_model_rate_limits")
    config.setdefault("mobius", {}).setdefault("budgets", {})["limits"] = {}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config))
    return target


class PipelineBench:
    """The pipeline under test: topics, workers and a client of its own on the shared stack."""

    def __init__(self, settings: MobiusSettings, simulator: Simulator) -> None:
        tag = uuid.uuid4().hex[:8]
        self.run_dir = settings.state_dir / "bench" / tag
        topics = TopicNames(**{name: f"bench-{tag}.{name}" for name in TopicNames.model_fields})
        config = unthrottled_config(settings.router_config, self.run_dir / "router.yaml")
        self.settings = settings.model_copy(
            update={"topics": topics, "worker_group": f"bench-{tag}", "router_config": config}
        )
        self.simulator = simulator
        self.workers = [Worker(f"bench-{tag}-w{n}", self.settings, simulator.provider_env()) for n in (1, 2)]
        self.groups: dict[str, int] = {}

    @property
    def worker_pid(self) -> int | None:
        return self.workers[0].process.pid()

    def ask(self, client: MobiusClient) -> Ask:
        async def ask(i: int) -> bool:
            try:
                reply = await client.ask(question(i), user_id=f"bench-{i % 64}", tier=TIER, timeout=60)
            except AskTimeout:
                return False
            if reply.model_group:
                self.groups[reply.model_group] = self.groups.get(reply.model_group, 0) + 1
            return reply.status == "ok"

        return ask

    def pids(self) -> dict[str, int | None]:
        """The processes that share the machine during a run, by role."""
        stack = LocalStack(self.settings)  # pids only: its health probes cannot run in this loop
        return {
            "worker": self.worker_pid,
            "simulator": self.simulator.process.pid(),
            "kafka": stack.kafka.process.pid() if stack.kafka else None,
            "redis": stack.redis.process.pid() if stack.redis else None,
            "bench_client": os.getpid(),
        }

    @property
    def main_group(self) -> str:
        """The group most bench questions were routed to: the one to call through the others."""
        return max(self.groups, key=lambda g: self.groups[g]) if self.groups else "fast"


def bench_pipeline(settings: MobiusSettings, options: BenchOptions) -> dict[str, Any]:
    simulator = Simulator(pick_free_port(), settings.state_dir / "bench" / f"sim-{uuid.uuid4().hex[:8]}")
    simulator.start()
    bench = PipelineBench(settings, simulator)
    asyncio.run(ensure_topics(bench.settings.kafka, bench.settings.topics.all()))
    try:
        bench.workers[0].start()
        result = asyncio.run(_measure(bench, options))
        for worker in bench.workers:  # the overload phase has the machine to itself
            worker.stop()
        return result | bench_lanes(bench.settings, simulator, options.seconds)
    finally:
        for worker in bench.workers:
            worker.stop()
        simulator.stop()


async def _measure(bench: PipelineBench, options: BenchOptions) -> dict[str, Any]:
    result: dict[str, Any] = {}
    simulator = bench.simulator
    async with MobiusClient(bench.settings.kafka, bench.settings.topics) as client:
        ask = bench.ask(client)
        await client.ask(question(-1), user_id="warm", tier=TIER, timeout=120)  # the worker has joined
        result["worker_rss_mb_start"] = rss_mb(bench.worker_pid)

        simulator.controls(fixed_latency_ms=options.latency_ms)
        latencies = await open_loop(ask, options.rate, options.seconds)
        result |= summarize("overhead", latencies, options.latency_ms)
        result["worker_rss_mb_warm"] = rss_mb(bench.worker_pid)  # after its first thousands
        result |= await light_load_hops(client, options.latency_ms, options.seconds)
        result |= await kafka_floor(bench.settings.kafka, bench.settings.topics.queries)
        if options.with_proxy:
            result |= await _proxy_overhead(bench, options)
        result |= await bench_ttft(
            client, simulator, options.latency_ms, options.seconds, lambda: cpu_seconds(bench.worker_pid)
        )

        simulator.controls(fixed_latency_ms=0)
        # Closed-loop runs start warm, like the bare Router's: a fresh worker's first thousand
        # requests cost more (LiteLLM's lazy imports and caches, the interpreter's own warm-up).
        warm_up = min(5.0, options.seconds)
        await closed_loop(ask, options.concurrency, warm_up)
        pids = bench.pids()
        cpu_start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        with _profiled(bench.worker_pid, options.profile, options.seconds):
            one = await closed_loop(ask, options.concurrency, options.seconds)
        result["throughput_rps"] = round(one.rate, 1)
        # Where the machine's CPU went per request: on 2 cores the load generator, simulator and
        # broker compete with the worker, and this says how much.
        cpu_ms = {
            name: round((cpu_seconds(pid) - cpu_start[name]) * 1000 / max(one.answered, 1), 2)
            for name, pid in pids.items()
        }
        result["worker_cpu_ms_per_request"] = cpu_ms["worker"]
        result["cpu_ms_per_request_by_process"] = cpu_ms

        simulator.controls(fixed_latency_ms=CONCURRENCY_LATENCY_MS)
        result["max_rps_at_1s_latency"] = await max_rate_without_lag_growth(
            bench.settings, client, options.seconds
        )
        result["worker_rss_mb_end"] = rss_mb(bench.worker_pid)

        simulator.controls(fixed_latency_ms=0)
        bare = await asyncio.to_thread(_bare_router, bench, options)
        result["bare_router_rps"] = bare["rps"]
        result["bare_router_cpu_ms_per_request"] = bare["cpu_ms_per_request"]
        result["throughput_ratio"] = round(one.rate / bare["rps"], 3) if bare["rps"] else 0.0

        bench.workers[1].start()
        await _wait_for_both_workers(bench)
        await closed_loop(ask, options.concurrency * 2, warm_up)
        two = await closed_loop(ask, options.concurrency * 2, options.seconds)
        result["throughput_rps_2_workers"] = round(two.rate, 1)
        result["two_worker_scaling"] = round(two.rate / one.rate, 2) if one.rate else 0.0
    return result


async def _proxy_overhead(bench: PipelineBench, options: BenchOptions) -> dict[str, Any]:
    """The same open-loop load and simulator, through LiteLLM's proxy over HTTP."""
    command = proxy_environment(bench.settings.cache_dir)
    proxy = LiteLLMProxy(pick_free_port(), bench.run_dir / "litellm-proxy", bench.simulator.provider_env())
    config = yaml.safe_load(bench.settings.router_config.read_text())
    max_tokens = int(config["mobius"]["tiers"][TIER]["max_output_tokens"])
    await asyncio.to_thread(proxy.start, command, config)
    try:
        headers = {"Authorization": f"Bearer {proxy.master_key}"}
        limits = aiohttp.TCPConnector(limit=0)  # open loop: no client-side queue
        async with aiohttp.ClientSession(headers=headers, connector=limits) as http:

            async def ask(i: int) -> bool:
                body = {"model": bench.main_group, "messages": question(i), "max_tokens": max_tokens}
                try:
                    async with http.post(f"{proxy.url}/v1/chat/completions", json=body) as reply:
                        await reply.read()
                        return reply.status == 200  # noqa: PLR2004
                except (aiohttp.ClientError, TimeoutError):
                    return False  # counted as unanswered, like a pipeline ask that times out

            await ask(-1)
            latencies = await open_loop(ask, options.rate, options.seconds)
            light = await open_loop(ask, LIGHT_RATE, options.seconds)
    finally:
        proxy.stop()
    summary = summarize("litellm_proxy_overhead", latencies, options.latency_ms)
    at_light = summarize("litellm_proxy_overhead", light, options.latency_ms)
    summary |= {f"{key}_20rps": value for key, value in at_light.items()}
    return summary | {"litellm_proxy_group": bench.main_group}


def _bare_router(bench: PipelineBench, options: BenchOptions) -> dict[str, float]:
    """Bare Router.acompletion, closed loop, in a process of its own on the same simulator."""
    config = yaml.safe_load(bench.settings.router_config.read_text())
    max_tokens = int(config["mobius"]["tiers"][TIER]["max_output_tokens"])
    argv = [
        sys.executable, "-m", "mobius.tools.bench_bare", str(bench.settings.router_config),
        "--group", bench.main_group, "--seconds", str(options.seconds),
        "--concurrency", str(options.concurrency), "--max-tokens", str(max_tokens),
    ]  # fmt: skip
    env = child_env(bench.settings, **bench.simulator.provider_env())
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise ServiceError(f"the bare Router benchmark failed:\n{done.stderr.strip()[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


async def _wait_for_both_workers(bench: PipelineBench, timeout_s: float = 90) -> None:
    """Until the consumer group is stable with two members (the rebalance is over)."""
    probe = LagProbe(bench.settings.kafka, bench.settings.worker_group, bench.settings.topics.inputs())
    await probe.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await probe.stable_members() == 2:  # noqa: PLR2004
                return
            await asyncio.sleep(0.5)
    finally:
        await probe.stop()
    raise ServiceError(f"the bench's second worker did not join in {timeout_s:.0f} s")
