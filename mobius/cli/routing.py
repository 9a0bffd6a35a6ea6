"""Commands for callers and operators of routing: ask, health, alerts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer
from rich.table import Table

from mobius.cli.common import console, err_console, fail, load_settings
from routing.router_config import RouterConfigError
from schemas.events import ReplyEvent
from schemas.vocabulary import TIERS, Tier


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

    if tier not in TIERS:
        raise fail(f"unknown tier {tier!r}: use free, pro or enterprise")
    chosen: Tier = tier  # checked just above
    settings = load_settings()

    async def go() -> ReplyEvent:
        async with MobiusClient(settings.kafka, settings.topics) as client:
            messages = [{"role": "user", "content": text}]
            return await client.ask(messages, user_id=user, tier=chosen, org_id=org, timeout=timeout)

    try:
        reply = asyncio.run(go())
    except AskTimeout as exc:
        raise fail(f"{exc}; is a worker running (mobius worker)?") from None
    if as_json:
        console.print_json(reply.model_dump_json())
    elif reply.status == "ok":
        console.print(reply.content)
        cost = reply.cost_nano_usd / 1e9
        err_console.print(
            f"[dim]{reply.model_group} / {reply.model}, {reply.total_latency_ms} ms, ${cost:.6f}[/]"
        )
    else:
        raise fail(f"{reply.error_code}: {reply.error_message}")


def health(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each deployment.")] = 10.0,
) -> None:
    """Call every deployment in the router config once; exit 1 when a whole group is down."""
    from routing.attempts import AttemptLog
    from routing.health import check_all, groups_down
    from routing.llm_gateway import LLMGateway
    from routing.router_config import load_router_config

    try:
        gateway = LLMGateway(load_router_config(load_settings().router_config), AttemptLog())
    except RouterConfigError as exc:
        raise fail(str(exc)) from None
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
        raise fail(f"every deployment of {', '.join(down)} is down")


def alerts(
    from_beginning: Annotated[
        bool, typer.Option(help="Show the alerts Kafka still keeps, then follow.")
    ] = False,
    count: Annotated[int | None, typer.Option(help="Stop after this many alerts.")] = None,
) -> None:
    """Follow mobius.alerts live: fallback storms and spend caps crossed."""
    from streams.alerts import follow

    settings = load_settings()

    async def show() -> None:
        async for alert in follow(settings.kafka, settings.topics.alerts, from_beginning, count):
            when = alert.raised_at.strftime("%H:%M:%S")
            console.print(f"[dim]{when}[/] [bold yellow]{alert.kind}[/] {alert.subject}: {alert.message}")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(show())


def register(app: typer.Typer) -> None:
    for command in (ask, health, alerts):
        app.command()(command)
