"""Soak: steady load for minutes, the worker's and the sink's RSS sampled, and whether they grow.

One worker and one sink process of their own (topics, consumer groups, embedded ClickHouse path)
on the shared local stack, a simulator of their own, and open-loop load at `SOAK_RATE`: mostly
distinct questions, some repeats from a small pool (answered from the response cache after their
first time) and some streamed queries. RSS of both processes is sampled every `interval_s`.

Growth is the least-squares slope of RSS over time after the warm-up (the first `WARM_UP_SHARE`
of the run: imports, LiteLLM's lazy caches, the allocator's arenas and chDB's buffers fill then),
in MB per hour, with its standard error and 95% confidence interval from the regression; the mean
RSS of the two halves of the steady part is reported beside it as a second, model-free view, and
the slope of the late half alone says whether a climb levels off (a filling cache) or keeps on.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from infra.ports import pick_free_port, port_is_free
from infra.simulator.launcher import Simulator
from mobius.fleet import SinkProcess, Worker
from mobius.settings import MobiusSettings
from mobius.tools.bench import rss_mb, unthrottled_config
from mobius.tools.bench_load import TIER, open_loop, question
from schemas.events import ReplyEvent
from schemas.vocabulary import Tier
from streams.client import AskTimeout, MobiusClient, StreamFailed
from streams.config import TopicNames
from streams.topics import ensure_topics

SOAK_RATE = 30.0  # queries per second: moderate, well below what one worker holds
SAMPLE_INTERVAL_S = 10.0
WARM_UP_SHARE = 0.2
REPEAT_POOL = 20  # distinct repeated questions: each is a cache hit after its first answer
PROVIDER_LATENCY_MS = 200
STREAM_TTFT_MS = 100
INTER_PIECE_MS = 5.0
ASK_TIMEOUT_S = 60.0

Sample = tuple[float, float]  # (seconds since the load started, RSS in MB)


@dataclass(frozen=True)
class Slope:
    """A least-squares line through RSS samples, in MB per hour."""

    mb_per_hour: float
    stderr_mb_per_hour: float | None  # None with fewer than three samples (no residual freedom)
    ci95_mb_per_hour: tuple[float, float] | None
    samples: int


def after_warm_up(samples: Sequence[Sample], run_s: float, share: float = WARM_UP_SHARE) -> list[Sample]:
    """The samples taken after the first `share` of a `run_s`-second run."""
    if not 0 <= share < 1:
        raise ValueError(f"the warm-up share must be in [0, 1), not {share}")
    cut = run_s * share
    return [sample for sample in samples if sample[0] >= cut]


def rss_slope(samples: Sequence[Sample]) -> Slope:
    """Ordinary least squares of RSS on time; the slope's standard error from the residuals."""
    n = len(samples)
    if n < 2:  # noqa: PLR2004 - a line needs two points
        return Slope(0.0, None, None, n)
    hours = [t / 3600 for t, _ in samples]
    mbs = [mb for _, mb in samples]
    mean_h, mean_mb = sum(hours) / n, sum(mbs) / n
    sxx = sum((h - mean_h) ** 2 for h in hours)
    if sxx == 0:
        raise ValueError("RSS samples need at least two distinct times")
    slope = sum((h - mean_h) * (mb - mean_mb) for h, mb in zip(hours, mbs, strict=True)) / sxx
    if n < 3:  # noqa: PLR2004 - two points fit exactly: no error estimate
        return Slope(round(slope, 3), None, None, n)
    intercept = mean_mb - slope * mean_h
    residuals = sum((mb - intercept - slope * h) ** 2 for h, mb in zip(hours, mbs, strict=True))
    stderr = math.sqrt(residuals / (n - 2) / sxx)
    half = _t_975(n - 2) * stderr
    ci = (round(slope - half, 3), round(slope + half, 3))
    return Slope(round(slope, 3), round(stderr, 3), ci, n)


def halves_mb(samples: Sequence[Sample]) -> tuple[float, float]:
    """Mean RSS of the first and the second half of the samples (0, 0 with fewer than two)."""
    if len(samples) < 2:  # noqa: PLR2004
        return 0.0, 0.0
    middle = len(samples) // 2
    first, second = samples[:middle], samples[middle:]
    return (
        round(sum(mb for _, mb in first) / len(first), 1),
        round(sum(mb for _, mb in second) / len(second), 1),
    )


def _t_975(dof: int) -> float:
    from scipy.stats import t  # noqa: PLC0415 - scipy is slow to import; only the summary needs it

    return float(t.ppf(0.975, dof))


def process_summary(name: str, samples: Sequence[Sample], run_s: float) -> dict[str, Any]:
    """One process's figures under `name`_ keys: RSS start/end, slope after warm-up, halves."""
    steady = after_warm_up(samples, run_s)
    slope = rss_slope(steady)
    late = rss_slope(steady[len(steady) // 2 :])
    first, second = halves_mb(steady)
    ci = list(slope.ci95_mb_per_hour) if slope.ci95_mb_per_hour else None
    late_ci = list(late.ci95_mb_per_hour) if late.ci95_mb_per_hour else None
    return {
        f"{name}_rss_mb_start": samples[0][1] if samples else 0.0,
        f"{name}_rss_mb_end": samples[-1][1] if samples else 0.0,
        f"{name}_rss_slope_mb_per_hour": slope.mb_per_hour,
        f"{name}_rss_slope_stderr_mb_per_hour": slope.stderr_mb_per_hour,
        f"{name}_rss_slope_ci95_mb_per_hour": ci,
        f"{name}_rss_steady_samples": slope.samples,
        f"{name}_rss_mb_steady_halves": [first, second],
        f"{name}_rss_slope_late_half_mb_per_hour": late.mb_per_hour,
        f"{name}_rss_slope_late_half_ci95_mb_per_hour": late_ci,
    }


@dataclass
class SoakCounts:
    answered: int = 0
    failed: int = 0
    streamed: int = 0
    cache_hits: int = 0


class SoakRig:
    """The worker, sink and simulator under soak, with topics and a ClickHouse path of their own."""

    def __init__(self, settings: MobiusSettings) -> None:
        tag = uuid.uuid4().hex[:8]
        self.run_dir = (settings.state_dir / "soak" / tag).resolve()
        topics = TopicNames(**{name: f"soak-{tag}.{name}" for name in TopicNames.model_fields})
        config = unthrottled_config(settings.router_config, self.run_dir / "router.yaml")
        self.settings = settings.model_copy(
            update={
                "topics": topics,
                "worker_group": f"soak-{tag}",
                "sink_group": f"soak-{tag}-sink",
                "router_config": config,
                "state_dir": self.run_dir,  # the sink's process files and analyst token too
                "clickhouse_dsn": f"chdb://{self.run_dir / 'clickhouse'}",
                "analytics_query_port": pick_free_port(),
                "metrics_port": None,
            }
        )
        self.simulator = Simulator(pick_free_port(), self.run_dir / "simulator")
        self.worker = Worker(f"soak-{tag}-worker", self.settings, self.simulator.provider_env())
        self.sink = SinkProcess(self.settings)
        self.sink_pid = self.worker_pid = 0

    def start(self) -> None:
        self.simulator.start()
        self.simulator.controls(
            fixed_latency_ms=PROVIDER_LATENCY_MS, stream_ttft_ms=STREAM_TTFT_MS, inter_token_ms=INTER_PIECE_MS
        )
        asyncio.run(ensure_topics(self.settings.kafka, self.settings.topics.all()))
        self.sink_pid = self.sink.start()
        self.worker_pid = self.worker.start()
        self._wait_for_sink()

    def _wait_for_sink(self, timeout_s: float = 120) -> None:
        """Until the sink serves analysts (its migrations are applied: past its start-up)."""
        port = self.settings.analytics_query_port
        serving = lambda: not port_is_free("127.0.0.1", port)  # noqa: E731 - a one-line check
        self.sink.process.wait_ready(serving, "the soak's sink", timeout_s)

    def stop(self) -> None:
        self.worker.stop()
        self.sink.stop()
        self.simulator.stop()

    def pids(self) -> dict[str, int | None]:
        return {"worker": self.worker_pid, "sink": self.sink_pid}


@dataclass(frozen=True)
class SoakQuery:
    messages: list[dict[str, str]]
    tier: Tier
    streamed: bool


def soak_query(i: int) -> SoakQuery:
    """The i-th query of the mix: 1 in 10 streams, 2 in 10 repeat one of `REPEAT_POOL` questions
    as `pro` (enterprise has no response cache) so they are cache hits, the rest are distinct."""
    if i % 10 == 0:
        return SoakQuery(question(i), TIER, streamed=True)
    if i % 10 in (3, 7):
        repeated = [{"role": "user", "content": f"soak repeated question {i % REPEAT_POOL}"}]
        return SoakQuery(repeated, "pro", streamed=False)
    return SoakQuery(question(i), TIER, streamed=False)


def make_ask(client: MobiusClient, counts: SoakCounts) -> Callable[[int], Any]:
    async def ask(i: int) -> bool:
        query = soak_query(i)
        user = f"soak-{i % 64}"
        reply: ReplyEvent | None = None
        try:
            if query.streamed:
                stream = client.stream(query.messages, user_id=user, tier=query.tier, timeout=ASK_TIMEOUT_S)
                async for item in stream:
                    if isinstance(item, ReplyEvent):
                        reply = item
            else:
                reply = await client.ask(query.messages, user_id=user, tier=query.tier, timeout=ASK_TIMEOUT_S)
        except (AskTimeout, StreamFailed):
            reply = None
        ok = reply is not None and reply.status == "ok"
        counts.answered += ok
        counts.failed += not ok
        counts.streamed += ok and query.streamed
        counts.cache_hits += bool(ok and reply and reply.cache_hit)
        return ok

    return ask


async def _sample(
    pids: dict[str, int | None], interval_s: float, started: float, done: asyncio.Event
) -> dict[str, list[Sample]]:
    """RSS of each process now and every `interval_s` until `done` is set."""
    samples: dict[str, list[Sample]] = {name: [] for name in pids}
    tick = 0
    while True:
        elapsed = round(time.perf_counter() - started, 2)
        for name, pid in pids.items():
            mb = rss_mb(pid)
            if mb > 0:  # a process that is gone has no memory to report
                samples[name].append((elapsed, mb))
        tick += 1
        wait = started + tick * interval_s - time.perf_counter()
        try:
            await asyncio.wait_for(done.wait(), timeout=max(0.0, wait))
            return samples
        except TimeoutError:
            continue


async def _soak(rig: SoakRig, seconds: float, interval_s: float, rate: float) -> dict[str, Any]:
    counts = SoakCounts()
    async with MobiusClient(rig.settings.kafka, rig.settings.topics) as client:
        await client.ask(question(-1), user_id="warm", tier=TIER, timeout=120)  # the worker has joined
        done = asyncio.Event()
        started = time.perf_counter()
        sampler = asyncio.create_task(_sample(rig.pids(), interval_s, started, done))
        try:
            await open_loop(make_ask(client, counts), rate, seconds)
        finally:
            done.set()
        samples = await sampler
        run_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "soak_run_dir": str(rig.run_dir),  # process logs, and memory/ with MOBIUS_MEMORY_TRACE_S set
        "soak_seconds": round(run_s, 1),
        "soak_rate": rate,
        "soak_sample_interval_s": interval_s,
        "soak_warm_up_s": round(run_s * WARM_UP_SHARE, 1),
        "answered": counts.answered,
        "failed": counts.failed,
        "streamed": counts.streamed,
        "cache_hits": counts.cache_hits,
    }
    for name, series in samples.items():
        result |= process_summary(name, series, run_s)
    result["samples"] = {name: [list(sample) for sample in series] for name, series in samples.items()}
    return result


def bench_soak(
    settings: MobiusSettings, minutes: float, interval_s: float = SAMPLE_INTERVAL_S, rate: float = SOAK_RATE
) -> dict[str, Any]:
    """Steady load for `minutes`; RSS samples and slopes of the worker and the sink."""
    if minutes <= 0 or interval_s <= 0 or rate <= 0:
        raise ValueError("the soak's minutes, rate and sampling interval must be positive")
    rig = SoakRig(settings)
    try:
        rig.start()
        return asyncio.run(_soak(rig, minutes * 60, interval_s, rate))
    finally:
        rig.stop()


def print_soak(result: dict[str, Any], console: Console) -> None:
    """The RSS samples side by side, then the summary."""
    samples: dict[str, list[list[float]]] = result["samples"]
    table = Table(title=f"mobius bench --soak: RSS (MB) every {result['soak_sample_interval_s']:g} s")
    table.add_column("s", justify="right")
    for name in samples:
        table.add_column(name, justify="right")
    by_time: dict[float, dict[str, float]] = {}
    for name, series in samples.items():
        for t, mb in series:
            by_time.setdefault(t, {})[name] = mb
    for t in sorted(by_time):
        table.add_row(f"{t:.0f}", *(str(by_time[t].get(name, "")) for name in samples))
    console.print(table)
    summary = Table(title="mobius bench --soak")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for key, value in result.items():
        if key != "samples":
            summary.add_row(key, str(value))
    console.print(summary)
