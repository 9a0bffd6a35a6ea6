"""The sink and analyst roles of a ClickHouse server (analytics/server_roles.sql), rendered for the
pipeline's database and tables, and applied by an administrator."""

from __future__ import annotations

import re
from pathlib import Path

from clickhouse_connect.driver.client import Client

from analytics.migrations import MIGRATIONS_DIR, apply_migrations, split_statements

ROLES_SQL = Path(__file__).resolve().parent / "server_roles.sql"
_CREATED = re.compile(r"CREATE\s+(?:TABLE|MATERIALIZED\s+VIEW)\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)


def pipeline_tables(directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Every table and view the migrations create, and the migrations' own log."""
    names = ["schema_migrations"]
    for path in sorted(directory.glob("*.sql")):
        names += [n for n in _CREATED.findall(path.read_text()) if n not in names]
    return names


def role_statements(database: str) -> list[str]:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
        raise ValueError(f"database name {database!r} is not a plain identifier")
    grants = ";\n".join(f"GRANT SELECT, INSERT ON {database}.{t} TO mobius_sink" for t in pipeline_tables())
    text = ROLES_SQL.read_text().replace("{sink_grants}", grants).replace("{database}", database)
    return split_statements(text)


def apply_roles(admin: Client, ttl_days: int) -> list[str]:
    """Migrations first (the sink role may not run DDL), then the roles; the statements run."""
    apply_migrations(admin, ttl_days)
    statements = role_statements(admin.database or "default")
    for statement in statements:
        admin.command(statement)
    return statements
