"""Commands that run things: the local services, a worker, the sink, the provider simulator."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from analytics.clickhouse import ClickHouseUnavailable
from infra.errors import ServiceError
from mobius.cli.common import console, fail, load_settings
from mobius.stack import LocalStack, ServiceStatus
from routing.router_config import RouterConfigError
from streams.topics import ensure_topics


def up() -> None:
    """Start the local Kafka broker and Redis (and prepare embedded ClickHouse); harmless twice."""
    settings = load_settings()
    stack = LocalStack(settings)
    created: list[str] = []
    try:
        with console.status("starting local services (the first run fetches the Kafka jars)..."):
            started = stack.up()
            if stack.kafka is not None:
                created = asyncio.run(ensure_topics(settings.kafka, settings.topics.all()))
    except ServiceError as exc:
        raise fail(str(exc)) from None
    console.print(f"started: {', '.join(started)}" if started else "already running")
    if stack.kafka is not None and created:
        console.print(f"created topics: {', '.join(created)}")
    print_status(stack.status(probe_clickhouse=False))


def down() -> None:
    """Stop every local service this state directory runs; leaves no process behind."""
    stopped = LocalStack(load_settings()).down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def status() -> None:
    """What runs, where, and whether it answers; exits 1 when a managed service is unhealthy."""
    statuses = LocalStack(load_settings()).status()
    print_status(statuses)
    if any(s.managed and not s.healthy for s in statuses):
        raise typer.Exit(code=1)


def selfcheck(
    keep: Annotated[bool, typer.Option(help="Leave the services running afterwards.")] = False,
) -> None:
    """Start the services and send one message round Kafka, Redis and ClickHouse."""
    from mobius.tools.selfcheck import run_roundtrip

    settings = load_settings()
    stack = LocalStack(settings)
    started: list[str] = []
    try:
        with console.status("starting local services (the first run fetches the Kafka jars)..."):
            started = stack.up(simulator=False)
        hops = asyncio.run(run_roundtrip(settings))
    except (ServiceError, ClickHouseUnavailable) as exc:
        raise fail(str(exc)) from None
    finally:
        if started and not keep:
            stack.down(only=started)
    table = Table(title="one message round the stack")
    for column in ("hop", "what happened", "ms"):
        table.add_column(column)
    for hop in hops:
        table.add_row(hop.name, hop.detail, f"{hop.millis:.1f}")
    console.print(table)


def worker(
    loglevel: Annotated[str, typer.Option(help="Faust/worker log level.")] = "WARNING",
) -> None:
    """Run one router worker: consume queries, route them through LiteLLM, publish replies."""
    from mobius.wiring.worker import NoProviders, run_worker  # imports LiteLLM: only routing pays

    try:
        run_worker(load_settings(), loglevel=loglevel)
    except (RouterConfigError, NoProviders) as exc:
        raise fail(str(exc)) from None


def sink() -> None:
    """Run the analytics sink: mobius.completions -> ClickHouse, in batches, idempotently."""
    from mobius.wiring.sink import run_sink

    run_sink(load_settings())


def simulator(
    port: Annotated[int, typer.Option(help="Port to serve on (loopback).")] = 8790,
    latency_scale: Annotated[float, typer.Option(help="Multiply every simulated latency.")] = 1.0,
) -> None:
    """Serve the provider simulator (OpenAI and Anthropic HTTP APIs) in the foreground."""
    from aiohttp import web

    from infra.simulator.behaviour import Controls
    from infra.simulator.server import make_app

    web.run_app(make_app(Controls(latency_scale=latency_scale)), host="127.0.0.1", port=port, print=None)


def dev() -> None:
    """Kafka, Redis, the simulator (local mode), one worker and the sink in the foreground, their
    logs interleaved and labeled; Ctrl-C stops them all."""
    from mobius.tools.dev import run_dev

    try:
        run_dev(load_settings(), console)
    except ServiceError as exc:
        raise fail(str(exc)) from None


def print_status(statuses: list[ServiceStatus]) -> None:
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


def register(app: typer.Typer) -> None:
    for command in (up, down, status, dev, selfcheck, worker, sink, simulator):
        app.command()(command)
