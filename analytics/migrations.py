"""Versioned ClickHouse migrations (analytics/migrations/NNN_name.sql), applied once each, in order.

Each file may hold several statements separated by `;` at line ends; `{ttl_days}` is filled from
the settings. Applied versions are recorded in `schema_migrations`, and every statement is written
to be safe to run again (IF NOT EXISTS), so a crash mid-migration is repaired by the next start.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
logger = logging.getLogger("mobius.analytics.migrations")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file of analytics/migrations/, split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations(ttl_days: int, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = re.fullmatch(r"(\d+)_(.+)\.sql", path.name)
        if match is None:
            raise ValueError(f"migration file {path.name} must be named NNN_name.sql")
        text = path.read_text().replace("{ttl_days}", str(int(ttl_days)))
        migrations.append(Migration(int(match.group(1)), match.group(2), tuple(split_statements(text))))
    return migrations


def split_statements(text: str) -> list[str]:
    """A SQL file's statements: separated by `;` at line ends; comment-only chunks dropped."""
    return [s.strip() for s in re.split(r";\s*$", text, flags=re.MULTILINE) if _has_sql(s)]


def apply_migrations(client: Client, ttl_days: int) -> list[str]:
    """Apply the migrations not yet recorded; the names applied now. A store with nothing to apply
    needs only SELECT (the sink's server role has no DDL)."""
    if not client.command("EXISTS TABLE schema_migrations"):
        client.command(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
            "ENGINE = MergeTree ORDER BY version"
        )
    done = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    applied = []
    for migration in load_migrations(ttl_days):
        if migration.version in done:
            continue
        for statement in migration.statements:
            client.command(statement)
        client.insert(
            "schema_migrations", [[migration.version, migration.name]], column_names=["version", "name"]
        )
        applied.append(f"{migration.version:03d}_{migration.name}")
        logger.info("applied migration %03d_%s", migration.version, migration.name)
    return applied


def _has_sql(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())
