"""`mobius budget set|show|reset`: spend limits per user and organisation, kept in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from redis import RedisError
from rich.table import Table

from mobius.cli.common import console, fail, load_settings
from routing.budgets import NANO_PER_USD, Scope, caps_for
from routing.router_config import RouterConfigError, load_router_config
from schemas.vocabulary import TIERS
from streams.stores.budgets import RedisBudgetStore
from streams.stores.connection import redis_client

T = TypeVar("T")
app = typer.Typer(
    help="Spend limits per user and organisation (USD, per UTC day and month).", no_args_is_help=True
)
UserOption = Annotated[str | None, typer.Option("--user", help="User id.")]
OrgOption = Annotated[str | None, typer.Option("--org", help="Organisation id.")]


@app.command("set")
def budget_set(
    user: UserOption = None,
    org: OrgOption = None,
    daily: Annotated[float | None, typer.Option(help="Daily limit in USD.")] = None,
    monthly: Annotated[float | None, typer.Option(help="Monthly limit in USD.")] = None,
) -> None:
    """Override the tier's default limits for one user or organisation."""
    scope, subject = _subject(user, org)
    if daily is None and monthly is None:
        raise fail("give --daily and/or --monthly")
    _with_store(lambda store: store.set_limit(scope, subject, daily, monthly))
    console.print(
        f"{scope} {subject}: daily {daily if daily is not None else '(unchanged)'}, "
        f"monthly {monthly if monthly is not None else '(unchanged)'} USD"
    )


@app.command("show")
def budget_show(
    user: UserOption = None,
    org: OrgOption = None,
    tier: Annotated[str, typer.Option(help="The tier whose default limits apply.")] = "pro",
) -> None:
    """What a user or organisation has spent today and this month, against its limits."""
    scope, subject = _subject(user, org)
    if tier not in TIERS:
        raise fail(f"unknown tier {tier!r}: use free, pro or enterprise")
    try:
        config = load_router_config(load_settings().router_config)
    except RouterConfigError as exc:
        raise fail(str(exc)) from None
    now = datetime.now(UTC)
    caps = [c for c in caps_for(config.mobius.budgets, tier, subject, subject, now) if c.scope == scope]
    if not caps:
        raise fail(f"the {tier} tier sets no {scope} caps")
    rows = _with_store(lambda store: store.spent(caps))
    table = Table(title=f"{scope} {subject} ({tier} defaults)")
    for column in ("period", "spent USD", "limit USD", "used", "resets at"):
        table.add_column(column)
    for cap, spent, limit in rows:
        used = f"{100 * spent / limit:.1f}%" if limit else "-"
        table.add_row(
            cap.period,
            f"{spent / NANO_PER_USD:.6f}",
            f"{limit / NANO_PER_USD:.6f}",
            used,
            cap.resets_at.isoformat(),
        )
    console.print(table)


@app.command("reset")
def budget_reset(
    user: UserOption = None,
    org: OrgOption = None,
    limits: Annotated[bool, typer.Option("--limits", help="Also remove the overrides.")] = False,
) -> None:
    """Forget what a user or organisation has spent (and, with --limits, its overrides)."""
    scope, subject = _subject(user, org)
    removed = _with_store(lambda store: store.reset(scope, subject, limits_too=limits))
    console.print(f"{scope} {subject}: {removed} keys removed")


def _subject(user: str | None, org: str | None) -> tuple[Scope, str]:
    if user is not None and org is None:
        return "user", user
    if org is not None and user is None:
        return "org", org
    raise fail("name exactly one of --user or --org")


def _with_store(action: Callable[[RedisBudgetStore], Awaitable[T]]) -> T:
    settings = load_settings()

    async def run() -> T:
        client = redis_client(settings.redis)
        try:
            return await action(RedisBudgetStore(client, near_cap_share=0.8))
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except RedisError as exc:
        host, port = settings.redis_host_port
        raise fail(f"Redis at {host}:{port} did not answer: {exc}") from None
