"""The pipeline the chaos scenarios break: two workers, the sink and a simulator of its own, on
topics, a consumer group and an embedded ClickHouse path of its own, on the local stack.

The router config is the configured one without rpm/tpm limits (the scenarios measure faults, not
the limits an operator chose) but with its spend caps on, so every answer reserves and settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml
from aiokafka import AIOKafkaConsumer

from analytics.clickhouse import ClickHouseUnavailable
from analytics.query import ask_sink
from infra.ports import pick_free_port
from infra.simulator.launcher import Simulator
from mobius.fleet import SinkProcess, Worker
from mobius.settings import MobiusSettings
from mobius.stack import LocalStack
from mobius.tools.stats import percentile
from schemas.events import ReplyEvent
from schemas.vocabulary import DLQ_SOURCE
from streams.client import AskTimeout, MobiusClient
from streams.config import TopicNames
from streams.kafka_options import client_options
from streams.stores.connection import redis_client
from streams.topics import LagProbe, ensure_topics


def limits_free_config(source: Path, target: Path) -> Path:
    """The router config without rpm/tpm limits (spend caps kept)."""
    config = yaml.safe_load(source.read_text())
    for deployment in config["model_list"]:
        for limit in ("rpm", "tpm"):
            deployment["litellm_params"].pop(limit, None)
    checks = config.get("router_settings", {}).get("optional_pre_call_checks") or []
    if "enforce_model_rate_limits" in checks:
        checks.remove("enforce_model_rate_limits")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config))
    return target


@dataclass
class Load:
    """One scenario's steady load: what was sent, what came back, and how long each took."""

    prefix: str
    sent: list[str] = field(default_factory=list)
    refused: int = 0  # publishes Kafka did not take (the broker away): the caller knows, nothing lost
    replies: dict[str, ReplyEvent] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)  # seconds after `started`
    started: float = field(default_factory=time.perf_counter)

    def sent_between(self, start: float, end: float) -> list[str]:
        """Answered queries sent in [start, end) (perf_counter seconds)."""
        return [
            i
            for i, at in self.answered_at.items()
            if start <= self.started + at - self.latency_ms[i] / 1000 < end
        ]

    @property
    def lost(self) -> int:
        return len(set(self.sent) - set(self.replies))

    def p99_ms(self, ids: list[str] | None = None) -> float:
        chosen = [self.latency_ms[i] for i in (ids if ids is not None else self.sent) if i in self.latency_ms]
        return round(percentile(chosen, 99), 1) if chosen else 0.0

    @property
    def cost_nano(self) -> int:
        return sum(r.cost_nano_usd for r in self.replies.values())


class ChaosRig:
    """The pipeline under test (see the module docstring)."""

    def __init__(self, settings: MobiusSettings) -> None:
        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        self.run_dir = settings.state_dir / "chaos" / tag
        topics = TopicNames(**{name: f"chaos-{tag}.{name}" for name in TopicNames.model_fields})
        self.settings = settings.model_copy(
            update={
                "topics": topics,
                "state_dir": self.run_dir
                / "state",  # its processes' pid files and logs apart from the user's
                "worker_group": f"chaos-{tag}",
                "worker_session_timeout_s": 6.0,
                "router_config": limits_free_config(settings.router_config, self.run_dir / "router.yaml"),
                "clickhouse_dsn": f"chdb://{(self.run_dir / 'clickhouse').resolve()}",
                "analytics_query_port": pick_free_port(),
            }
        )
        self.stack = LocalStack(settings)
        self.simulator = Simulator(pick_free_port(), self.run_dir / "simulator")
        self.workers: list[Worker] = []
        self.sink = SinkProcess(self.settings)

    workers_wanted = 2

    def start(self) -> None:
        self.simulator.start(latency_scale=0.02)
        asyncio.run(ensure_topics(self.settings.kafka, self.settings.topics.all()))
        for _ in range(self.workers_wanted):
            self.add_worker()
        self.sink.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.sink.stop()
        self.simulator.stop()

    @property
    def canaries(self) -> dict[str, str]:
        """Provider keys no one else uses, so the canary scenario can look for them everywhere."""
        return {
            "OPENAI_API_KEY": f"sk-canary-openai-{self.tag}",
            "ANTHROPIC_API_KEY": f"sk-ant-canary-{self.tag}",
        }

    def add_worker(self) -> Worker:
        name = f"chaos-{self.tag}-w{len(self.workers)}"
        worker = Worker(name, self.settings, self.simulator.provider_env() | self.canaries)
        worker.start()
        self.workers.append(worker)
        return worker

    def live_workers(self) -> list[Worker]:
        return [w for w in self.workers if w.process.is_running()]

    def provider_calls(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.simulator.requests().values())

    async def steady_load(
        self,
        client: MobiusClient,
        prefix: str,
        count: int,
        rate: float,
        *,
        during: Callable[[Load], Coroutine[Any, Any, None]] | None = None,
        timeout_s: float = 180.0,
    ) -> Load:
        """`count` distinct pro-tier questions at `rate` per second for one org; `during` runs
        beside the load (the fault); returns once every accepted query is answered or timed out."""
        load = Load(prefix)
        t0 = load.started

        async def one(i: int) -> None:
            request_id = f"{prefix}-{uuid.uuid4().hex[:10]}-{i}"
            started = time.perf_counter()
            future = client.expect(request_id)
            try:
                await client.publish(
                    [{"role": "user", "content": f"chaos question {request_id}: what is {i} + {i}?"}],
                    user_id=f"chaos-user-{i % 50}",
                    org_id=self.org_of(prefix),
                    tier="pro",
                    request_id=request_id,
                )
            except Exception:  # noqa: BLE001 - a publish the broker refused: not accepted, not lost
                load.refused += 1
                return
            load.sent.append(request_id)
            try:
                reply = await client.wait(request_id, future, timeout_s)
            except AskTimeout:
                return
            load.replies[request_id] = reply
            load.latency_ms[request_id] = (time.perf_counter() - started) * 1000
            load.answered_at[request_id] = time.perf_counter() - t0

        tasks = []
        fault: asyncio.Task[None] | None = asyncio.create_task(during(load)) if during else None
        for i in range(count):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        if fault is not None:
            await fault
        return load

    async def wait_for(self, condition: Callable[[], Awaitable[bool]], timeout_s: float) -> float:
        """Seconds until `condition` holds; -1 when it did not within `timeout_s`."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            try:
                if await condition():
                    return round(time.monotonic() - t0, 2)
            except Exception:  # noqa: BLE001, S110 - a probe failing while a service is away means not yet
                pass
            await asyncio.sleep(0.25)
        return -1.0

    async def rows(self, prefix: str, timeout_s: float = 60.0) -> tuple[int, int]:
        """Rows in ClickHouse for a scenario's request ids: (all, distinct request ids). Asked of
        the sink only: this process opening the engine while the sink restarts would lock it out."""
        sql = (
            "SELECT count(), uniqExact(request_id) FROM completions WHERE startsWith(request_id, {p:String})"
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                result = await asyncio.to_thread(ask_sink, self.settings.clickhouse, sql, {"p": f"{prefix}-"})
                break
            except (ConnectionRefusedError, ClickHouseUnavailable):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        total, distinct = result.rows[0]
        return int(total), int(distinct)

    async def dead_letter_sources(self, wanted: set[str], timeout_s: float) -> set[str]:
        """Which of `wanted` (topic[partition]@offset) the dead-letter topic names as a source."""
        found: set[str] = set()
        consumer = AIOKafkaConsumer(
            self.settings.topics.dlq,
            **client_options(self.settings.kafka),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + timeout_s
            while not wanted <= found and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                    for record in records:
                        source = dict(record.headers).get(DLQ_SOURCE, b"").decode()
                        if source in wanted:
                            found.add(source)
        finally:
            await consumer.stop()
        return found

    async def queries_lag(self) -> int:
        """Queries not yet committed by the workers' group (a wedged partition never reaches 0)."""
        probe = LagProbe(self.settings.kafka, self.settings.worker_group, self.settings.topics.inputs())
        await probe.start()
        try:
            return await probe.lag()
        finally:
            await probe.stop()

    async def group_members(self) -> int:
        """Members of the workers' consumer group once it is stable (0 while it rebalances)."""
        probe = LagProbe(self.settings.kafka, self.settings.worker_group, self.settings.topics.inputs())
        await probe.start()
        try:
            return await probe.stable_members()
        finally:
            await probe.stop()

    def workers_rss_mb(self) -> list[float]:
        sizes = []
        for worker in self.live_workers():
            pid = worker.process.pid()
            with contextlib.suppress(psutil.Error, TypeError):
                sizes.append(round(psutil.Process(pid).memory_info().rss / 2**20, 1))
        return sizes

    def org_of(self, prefix: str) -> str:
        """Each scenario's load comes from an org of its own, so its spend counter is its own."""
        return f"{prefix}-org-{self.tag}"

    async def org_spend_nano(self, prefix: str) -> int:
        """A scenario's org spend counter for today (what its caps are checked against)."""
        client = redis_client(self.settings.redis)
        pattern = f"mobius:spend:org:{self.org_of(prefix)}:????-??-??"
        try:
            found = [k async for k in client.scan_iter(match=pattern)]
            return int(await client.get(found[0]) or 0) if found else 0
        finally:
            await client.aclose()
