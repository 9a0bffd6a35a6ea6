"""The `mobius` console script: one Typer app assembling the command groups."""

from __future__ import annotations

import logging

import typer
from rich.markup import escape

from mobius.cli import analytics, budget, quality, routing, services, tools
from mobius.cli.common import fail
from streams.kafka_options import KafkaAccessError

app = typer.Typer(help="Mobius Router: route LLM queries over Kafka with LiteLLM.", no_args_is_help=True)
for group in (services, routing, quality, analytics, tools):
    group.register(app)
app.add_typer(budget.app, name="budget")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # aiokafka logs every refused connection while a broker starts; readiness is reported by us.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        app()
    except KafkaAccessError as exc:  # any command: refused credentials, TLS trust, protocol
        # Escaped: the broker's own words may hold brackets rich would read as markup.
        raise SystemExit(fail(f"cannot use Kafka: {escape(str(exc))}").exit_code) from None
