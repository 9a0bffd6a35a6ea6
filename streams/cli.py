"""`mobius`: the command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from analytics.clickhouse import ClickHouseUnavailable
from analytics.query import QueryResult
from infra.errors import ServiceError
from infra.stack import LocalStack, ServiceStatus
from routing.router_config import RouterConfigError
from schemas.events import ReplyEvent
from streams.roundtrip import run_roundtrip
from streams.settings import MobiusSettings
from streams.topics import ensure_topics

T = TypeVar("T")
app = typer.Typer(help="Mobius Router: route LLM queries over Kafka with LiteLLM.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _settings() -> MobiusSettings:
    return MobiusSettings()


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@app.command()
def up() -> None:
    """Start the local Kafka broker and Redis (and prepare embedded ClickHouse); harmless twice."""
    settings = _settings()
    stack = LocalStack(settings)
    created: list[str] = []
    try:
        with console.status("starting local services (the first run fetches the Kafka jars)..."):
            started = stack.up()
            if stack.kafka is not None:
                created = asyncio.run(ensure_topics(settings))
    except ServiceError as exc:
        raise _fail(str(exc)) from None
    console.print(f"started: {', '.join(started)}" if started else "already running")
    if stack.kafka is not None and created:
        console.print(f"created topics: {', '.join(created)}")
    _print_status(stack.status(probe_clickhouse=False))


@app.command()
def down() -> None:
    """Stop every local service this state directory runs; leaves no process behind."""
    stopped = LocalStack(_settings()).down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status() -> None:
    """What runs, where, and whether it answers; exits 1 when a managed service is unhealthy."""
    statuses = LocalStack(_settings()).status()
    _print_status(statuses)
    if any(s.managed and not s.healthy for s in statuses):
        raise typer.Exit(code=1)


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    workers: Annotated[int, typer.Option(help="Router worker processes to run.")] = 1,
    latency_scale: Annotated[float, typer.Option(help="Scale the simulated provider latency.")] = 0.5,
    size: Annotated[int, typer.Option(help="Queries in the workload.")] = 300,
) -> None:
    """The main job: route a built-in workload end to end, fail a provider midway, report."""
    from streams.demo import print_summary, run_demo

    try:
        summary = run_demo(
            _settings(),
            workers=workers,
            latency_scale=latency_scale,
            size=size,
            console=None if as_json else console,
        )
    except (ServiceError, ClickHouseUnavailable, RouterConfigError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps(summary))
    else:
        print_summary(summary, console)


@app.command()
def selfcheck(
    keep: Annotated[bool, typer.Option(help="Leave the services running afterwards.")] = False,
) -> None:
    """Start the services and send one message round Kafka, Redis and ClickHouse."""
    settings = _settings()
    stack = LocalStack(settings)
    started: list[str] = []
    try:
        with console.status("starting local services (the first run fetches the Kafka jars)..."):
            started = stack.up()
        hops = asyncio.run(run_roundtrip(settings))
    except (ServiceError, ClickHouseUnavailable) as exc:
        raise _fail(str(exc)) from None
    finally:
        if started and not keep:
            stack.down()
    table = Table(title="one message round the stack")
    for column in ("hop", "what happened", "ms"):
        table.add_column(column)
    for hop in hops:
        table.add_row(hop.name, hop.detail, f"{hop.millis:.1f}")
    console.print(table)


@app.command()
def worker(
    loglevel: Annotated[str, typer.Option(help="Faust/worker log level.")] = "WARNING",
) -> None:
    """Run one router worker: consume queries, route them through LiteLLM, publish replies."""
    from streams.worker import run_worker  # imports LiteLLM: only the commands that route pay for it

    try:
        run_worker(_settings(), loglevel=loglevel)
    except RouterConfigError as exc:
        raise _fail(str(exc)) from None


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="The question.")],
    user: Annotated[str, typer.Option("--user", help="User id.")] = "cli-user",
    tier: Annotated[str, typer.Option("--tier", help="free, pro or enterprise.")] = "free",
    org: Annotated[str | None, typer.Option("--org", help="Organisation id.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the reply.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
) -> None:
    """Ask one question through the pipeline and print the reply."""
    from streams.client import AskTimeout, MobiusClient

    if tier not in ("free", "pro", "enterprise"):
        raise _fail(f"unknown tier {tier!r}: use free, pro or enterprise")

    async def go() -> ReplyEvent:
        async with MobiusClient(_settings()) as client:
            messages = [{"role": "user", "content": text}]
            return await client.ask(messages, user_id=user, tier=tier, org_id=org, timeout=timeout)  # type: ignore[arg-type]

    try:
        reply = asyncio.run(go())
    except AskTimeout as exc:
        raise _fail(f"{exc}; is a worker running (mobius worker)?") from None
    if as_json:
        console.print_json(reply.model_dump_json())
    elif reply.status == "ok":
        console.print(reply.content)
        cost = reply.cost_nano_usd / 1e9
        err_console.print(
            f"[dim]{reply.model_group} / {reply.model}, {reply.total_latency_ms} ms, ${cost:.6f}[/]"
        )
    else:
        raise _fail(f"{reply.error_code}: {reply.error_message}")


@app.command()
def simulator(
    port: Annotated[int, typer.Option(help="Port to serve on (loopback).")] = 8790,
    latency_scale: Annotated[float, typer.Option(help="Multiply every simulated latency.")] = 1.0,
) -> None:
    """Serve the provider simulator (OpenAI and Anthropic HTTP APIs) in the foreground."""
    from aiohttp import web

    from infra.simulator.behaviour import Controls
    from infra.simulator.server import make_app

    web.run_app(make_app(Controls(latency_scale=latency_scale)), host="127.0.0.1", port=port, print=None)


@app.command()
def health(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each deployment.")] = 10.0,
) -> None:
    """Call every deployment in the router config once; exit 1 when a whole group is down."""
    from routing.attempts import AttemptLog
    from routing.health import check_all, groups_down
    from routing.llm_gateway import LLMGateway
    from routing.router_config import load_router_config

    try:
        gateway = LLMGateway(load_router_config(_settings().router_config), AttemptLog())
    except RouterConfigError as exc:
        raise _fail(str(exc)) from None
    results = asyncio.run(check_all(gateway.deployments(), timeout))
    table = Table(title="deployment health")
    for column in ("group", "model", "status", "latency ms", "error"):
        table.add_column(column)
    for r in sorted(results, key=lambda r: (r.group, r.model)):
        status = "[green]ok[/]" if r.healthy else "[red]down[/]"
        table.add_row(r.group, r.model, status, str(r.latency_ms), r.error)
    console.print(table)
    down = groups_down(results)
    if down:
        raise _fail(f"every deployment of {', '.join(down)} is down")


@app.command()
def alerts(
    from_beginning: Annotated[
        bool, typer.Option(help="Show the alerts Kafka still keeps, then follow.")
    ] = False,
    count: Annotated[int | None, typer.Option(help="Stop after this many alerts.")] = None,
) -> None:
    """Follow mobius.alerts live: fallback storms and spend caps crossed."""
    from streams.alerts import follow

    async def show() -> None:
        async for alert in follow(_settings(), from_beginning, count):
            when = alert.raised_at.strftime("%H:%M:%S")
            console.print(f"[dim]{when}[/] [bold yellow]{alert.kind}[/] {alert.subject}: {alert.message}")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(show())


@app.command()
def sink() -> None:
    """Run the analytics sink: mobius.completions -> ClickHouse, in batches, idempotently."""
    from analytics.service import run_sink

    run_sink(_settings())


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="The SQL to run.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """Run ad-hoc SQL on the analytics store (works while the sink runs)."""
    from analytics.query import QueryFailed, run_sql

    try:
        result = run_sql(_settings(), query)
    except (QueryFailed, ClickHouseUnavailable) as exc:
        raise _fail(str(exc)) from None
    _print_result(result, as_json)


@app.command()
def report(
    name: Annotated[str, typer.Argument(help="A saved query from analytics/queries (see --list).")] = "",
    since: Annotated[str, typer.Option(help="How far back: 30m, 1h, 7d.")] = "24h",
    plot: Annotated[Path | None, typer.Option(help="Also draw the report's chart to this PNG file.")] = None,
    list_all: Annotated[bool, typer.Option("--list", help="List the saved queries.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """Run a saved analyst query, print it, and optionally plot it."""
    from analytics.query import QueryFailed
    from analytics.reports import draw, load_saved_queries, parse_since, run_report

    saved = load_saved_queries()
    if list_all or not name:
        for query in saved.values():
            console.print(f"[bold]{query.name}[/]: {query.description}")
        return
    if name not in saved:
        raise _fail(f"no saved query {name!r}; `mobius report --list` shows them")
    try:
        result = run_report(_settings(), saved[name], parse_since(since))
    except (QueryFailed, ClickHouseUnavailable, ValueError) as exc:
        raise _fail(str(exc)) from None
    _print_result(result, as_json, title=saved[name].description)
    if plot is not None:
        draw(saved[name], result, plot)
        err_console.print(f"chart written to {plot}")


@app.command()
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
    rows: Annotated[int, typer.Option(help="Backlog the sink drains to measure its ingest rate.")] = 50_000,
    freshness_rate: Annotated[int, typer.Option(help="Records per second while measuring freshness.")] = 500,
) -> None:
    """Benchmark on the local stack: overhead and throughput beside LiteLLM's proxy and a bare Router,
    the rate one worker holds at 1 s provider latency, worker memory, analytics ingest and freshness."""
    from analytics.bench import bench_analytics
    from streams.bench import BenchOptions, bench_pipeline

    settings = _settings()
    stack = LocalStack(settings)
    options = BenchOptions(rate, seconds, latency_ms, concurrency, with_proxy=proxy, profile=profile)
    try:
        started = stack.up()
        result = bench_pipeline(settings, options)
        result |= asyncio.run(bench_analytics(settings, rows, freshness_rate, min(seconds, 10.0)))
    except (ServiceError, ClickHouseUnavailable) as exc:
        raise _fail(str(exc)) from None
    if started:
        stack.down()
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title="mobius bench")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)


def _print_result(result: QueryResult, as_json: bool, title: str | None = None) -> None:
    if as_json:
        print(json.dumps([dict(zip(result.columns, row, strict=True)) for row in result.rows], default=str))
        return
    table = Table(title=title)
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


def _print_status(statuses: list[ServiceStatus]) -> None:
    table = Table(title="mobius services")
    for column in ("service", "address", "pid", "state", "detail"):
        table.add_column(column)
    for s in statuses:
        if not s.running:
            state = "[red]stopped[/]"
        elif s.healthy:
            state = "[green]healthy[/]"
        else:
            state = "[yellow]unhealthy[/]" if s.managed else "[dim]external[/]"
        table.add_row(s.name, s.address, str(s.pid or "-"), state, s.detail)
    console.print(table)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # aiokafka logs every refused connection while a broker starts; readiness is reported by us.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    app()
