"""What every command group shares: the consoles, the settings, errors and tables."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from analytics.query import QueryResult
from mobius.settings import MobiusSettings

console = Console()
err_console = Console(stderr=True)


def load_settings() -> MobiusSettings:
    """The settings, built once per command from the MOBIUS_ environment."""
    return MobiusSettings()


def fail(message: str) -> typer.Exit:
    """A clear one-line error and exit code 1 (raise what this returns)."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def print_result(result: QueryResult, as_json: bool, title: str | None = None) -> None:
    if as_json:
        print(json.dumps([dict(zip(result.columns, row, strict=True)) for row in result.rows], default=str))
        return
    table = Table(title=title)
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


def print_measures(title: str, measures: dict[str, object]) -> None:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in measures.items():
        table.add_row(key, str(value))
    console.print(table)
