"""Commands for analysts: ad-hoc SQL and saved reports on the ClickHouse store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from clickhouse_connect.driver.exceptions import ClickHouseError

from analytics.clickhouse import ClickHouseUnavailable
from mobius.cli.common import console, err_console, fail, load_settings, print_result


def sql(
    query: Annotated[str, typer.Argument(help="The SQL to run.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """Run ad-hoc SQL on the analytics store (works while the sink runs)."""
    from analytics.query import QueryFailed, run_sql

    try:
        result = run_sql(load_settings().clickhouse, query)
    except (QueryFailed, ClickHouseUnavailable) as exc:
        raise fail(str(exc)) from None
    print_result(result, as_json)


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
        raise fail(f"no saved query {name!r}; `mobius report --list` shows them")
    try:
        result = run_report(load_settings().clickhouse, saved[name], parse_since(since))
    except (QueryFailed, ClickHouseUnavailable, ValueError) as exc:
        raise fail(str(exc)) from None
    print_result(result, as_json, title=saved[name].description)
    if plot is not None:
        draw(saved[name], result, plot)
        err_console.print(f"chart written to {plot}")


def roles(
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the statements (for clickhouse-client) instead.")
    ] = False,
    database: Annotated[str, typer.Option(help="The pipeline's database, for --print.")] = "default",
) -> None:
    """On a ClickHouse server: apply the migrations and create the sink and analyst roles
    (analytics/server_roles.sql); run it with an administrator's DSN."""
    from analytics.clickhouse import connect
    from analytics.roles import apply_roles, role_statements

    if print_only:
        print(";\n\n".join(role_statements(database)) + ";")
        return
    ch = load_settings().clickhouse
    if ch.embedded:
        raise fail("the embedded engine has no users or roles: point MOBIUS_CLICKHOUSE_DSN at a server")
    try:
        client = connect(ch.dsn, ch.password)
        statements = apply_roles(client, ch.ttl_days)
    except ClickHouseUnavailable as exc:
        raise fail(str(exc)) from None
    except ClickHouseError as exc:
        raise fail(f"ClickHouse refused: {str(exc).strip().splitlines()[0]}") from None
    console.print(f"roles mobius_sink and mobius_analyst ready ({len(statements)} statements)")


def register(app: typer.Typer) -> None:
    for command in (sql, report, roles):
        app.command()(command)
