"""Tooling commands: the demo (the main job) and the benchmark."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from analytics.clickhouse import ClickHouseUnavailable
from infra.errors import ServiceError
from mobius.cli.common import console, fail, load_settings, print_measures
from mobius.settings import MobiusSettings
from mobius.stack import LocalStack
from routing.router_config import RouterConfigError

T = TypeVar("T")


def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    workers: Annotated[int, typer.Option(help="Router worker processes to run.")] = 1,
    latency_scale: Annotated[float, typer.Option(help="Scale the simulated provider latency.")] = 0.5,
    size: Annotated[int, typer.Option(help="Queries in the workload.")] = 300,
) -> None:
    """The main job: route a built-in workload end to end, fail a provider midway, report."""
    from mobius.tools.demo import run_demo
    from mobius.tools.demo_report import print_summary

    try:
        summary = run_demo(
            load_settings(),
            workers=workers,
            latency_scale=latency_scale,
            size=size,
            console=None if as_json else console,
        )
    except (ServiceError, ClickHouseUnavailable, RouterConfigError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(summary))
    else:
        print_summary(summary, console)


def bench(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    rate: Annotated[float, typer.Option(help="Open-loop queries per second for the overhead run.")] = 100.0,
    seconds: Annotated[float, typer.Option(help="Length of each timed run.")] = 30.0,
    latency_ms: Annotated[
        int, typer.Option(help="The simulated provider latency for the overhead run.")
    ] = 200,
    concurrency: Annotated[int, typer.Option(help="Clients in the closed-loop throughput run.")] = 64,
    proxy: Annotated[
        bool, typer.Option(help="Measure LiteLLM's proxy side by side (builds its virtualenv once).")
    ] = True,
    profile: Annotated[
        Path | None, typer.Option(help="py-spy profile of the worker's throughput run (.svg, .json, .txt).")
    ] = None,
    rows: Annotated[int, typer.Option(help="Backlog the sink drains to measure its ingest rate.")] = 100_000,
    freshness_rate: Annotated[int, typer.Option(help="Records per second while measuring freshness.")] = 500,
    soak: Annotated[
        float | None,
        typer.Option(help="Only a soak: steady load for this many minutes (10 is usual), RSS slopes."),
    ] = None,
    soak_rate: Annotated[
        float | None,
        typer.Option(help="Queries per second of a soak (default 30; lower for a traced soak)."),
    ] = None,
    soak_interval_s: Annotated[
        float, typer.Option(hidden=True, help="RSS sampling interval of a soak (tests shorten it).")
    ] = 10.0,
) -> None:
    """Benchmark on the local stack: overhead and throughput beside LiteLLM's proxy and a bare Router,
    the rate one worker holds at 1 s provider latency, worker memory, analytics ingest and freshness."""
    from mobius.tools.bench import BenchOptions, bench_pipeline
    from mobius.tools.bench_analytics import bench_analytics
    from mobius.tools.bench_classify import bench_classify

    settings = load_settings()
    if soak is not None:
        _soak(settings, soak, soak_rate, soak_interval_s, as_json)
        return
    stack = LocalStack(settings)
    options = BenchOptions(rate, seconds, latency_ms, concurrency, with_proxy=proxy, profile=profile)
    try:
        started = stack.up(simulator=False)  # the bench runs its own simulator
        result = bench_pipeline(settings, options)
        result |= asyncio.run(bench_analytics(settings, rows, freshness_rate, min(seconds, 10.0)))
        result |= bench_classify(settings.router_config)
    except (ServiceError, ClickHouseUnavailable) as exc:
        raise fail(str(exc)) from None
    if started:
        stack.down(only=started)
    if as_json:
        print(json.dumps(result))
        return
    print_measures("mobius bench", result)


def _soak(
    settings: MobiusSettings, minutes: float, rate: float | None, interval_s: float, as_json: bool
) -> None:
    from mobius.tools.bench_soak import SOAK_RATE, bench_soak, print_soak

    soak_rate = SOAK_RATE if rate is None else rate
    result = _on_local_stack(settings, lambda: bench_soak(settings, minutes, interval_s, soak_rate))
    if as_json:
        print(json.dumps(result))
        return
    print_soak(result, console)


def chaos(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON list, an object per scenario.")
    ] = False,
    scenario: Annotated[
        list[str] | None, typer.Option(help="Run only this scenario (repeatable); default: all.")
    ] = None,
    queries: Annotated[int, typer.Option(help="Queries in each scenario's steady load.")] = 400,
    rate: Annotated[float, typer.Option(help="Queries per second of the steady load.")] = 20.0,
    outage_s: Annotated[float, typer.Option(help="How long a provider stays down.")] = 60.0,
    fuzz_events: Annotated[int, typer.Option(help="Malformed events the fuzzer draws.")] = 10_000,
) -> None:
    """Break the pipeline one part at a time under steady load (kill -9 a worker, the broker, the
    sink, Redis; a provider down; fuzzed, oversized input; canary secrets) and print what was
    lost, duplicated and how long recovery took."""
    from mobius.tools.chaos import run_chaos
    from mobius.tools.chaos_scenarios import ChaosOptions

    settings = load_settings()
    options = ChaosOptions(queries=queries, rate=rate, outage_s=outage_s, fuzz_events=fuzz_events)
    results = _on_local_stack(settings, lambda: run_chaos(settings, options, scenario or []))
    if as_json:
        print(json.dumps(results))
        return
    for result in results:
        print_measures(f"chaos: {result['scenario']}", {k: v for k, v in result.items() if k != "scenario"})


def _on_local_stack(settings: MobiusSettings, run: Callable[[], T]) -> T:
    """`run` on the local stack, started for it if needed (without the shared simulator: soak and
    chaos run their own) and stopped after if this started it; a failure becomes one line."""
    stack = LocalStack(settings)
    try:
        started = stack.up(simulator=False)
        result = run()
    except (ServiceError, ClickHouseUnavailable, ValueError) as exc:
        raise fail(str(exc)) from None
    if started:
        stack.down(only=started)
    return result


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command()(bench)
    app.command()(chaos)
