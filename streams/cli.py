"""`mobius`: the command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from analytics.clickhouse import ClickHouseUnavailable
from infra.errors import ServiceError
from infra.stack import LocalStack, ServiceStatus
from streams.roundtrip import run_roundtrip
from streams.settings import MobiusSettings
from streams.topics import ensure_topics

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
    keep: Annotated[bool, typer.Option(help="Leave the services running afterwards.")] = False,
) -> None:
    """The main job: start the services and send one message round Kafka, Redis and ClickHouse."""
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
