"""Commands for callers and operators of routing: ask, health, alerts."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Annotated

import typer
from rich.table import Table

from mobius.cli.common import console, err_console, fail, load_settings
from routing.router_config import RouterConfigError
from schemas.events import ReplyChunk, ReplyEvent
from schemas.vocabulary import TIERS, Tier


def ask(
    text: Annotated[str, typer.Argument(help="The question.")],
    user: Annotated[str, typer.Option("--user", help="User id.")] = "cli-user",
    tier: Annotated[str, typer.Option("--tier", help="free, pro or enterprise.")] = "free",
    org: Annotated[str | None, typer.Option("--org", help="Organisation id.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the reply.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it arrives.")] = False,
) -> None:
    """Ask one question through the pipeline and print the reply."""
    from streams.client import AskTimeout, MobiusClient, StreamFailed

    if tier not in TIERS:
        raise fail(f"unknown tier {tier!r}: use free, pro or enterprise")
    chosen: Tier = tier  # checked just above
    settings = load_settings()
    messages = [{"role": "user", "content": text}]

    async def go() -> ReplyEvent:
        async with MobiusClient(settings.kafka, settings.topics) as client:
            if stream and not as_json:
                chunks = client.stream(messages, user_id=user, tier=chosen, org_id=org, timeout=timeout)
                return await _print_as_it_arrives(chunks)
            return await client.ask(messages, user_id=user, tier=chosen, org_id=org, timeout=timeout)

    try:
        reply = asyncio.run(go())
    except AskTimeout as exc:
        raise fail(f"{exc}; is a worker running (mobius worker)?") from None
    except StreamFailed as exc:
        raise fail(str(exc)) from None
    if stream and not as_json:
        _print_route(reply)
        return
    if as_json:
        console.print_json(reply.model_dump_json())
    elif reply.status == "ok":
        console.print(reply.content)
        _print_route(reply)
    else:
        raise fail(f"{reply.error_code}: {reply.error_message}")


def _print_route(reply: ReplyEvent) -> None:
    cost = reply.cost_nano_usd / 1e9
    err_console.print(
        f"[dim]{reply.model_group} / {reply.model}, {reply.total_latency_ms} ms, ${cost:.6f}[/]"
    )


async def _print_as_it_arrives(items: AsyncIterator[ReplyChunk | ReplyEvent]) -> ReplyEvent:
    """Each chunk's text as it comes (plain stdout, no markup); the final reply."""
    begun = False
    async for item in items:
        if isinstance(item, ReplyEvent):
            sys.stdout.write("\n")
            sys.stdout.flush()
            return item
        if item.sequence == 0 and begun:  # a redelivery streams again from the start
            sys.stdout.write("\n[the answer started over]\n")
        begun = True
        sys.stdout.write(item.text)
        sys.stdout.flush()
    raise RuntimeError("the stream ended without a reply")


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
