"""The server roles: every statement parses with ClickHouse's own parser (the embedded engine has
no access control to run them), the sink is granted exactly the pipeline's tables, the analyst
only reads, and `mobius roles` says plainly that an embedded store has no roles."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client

from analytics.roles import pipeline_tables, role_statements
from mobius.settings import MobiusSettings, settings_env
from tests.support.cli import run_mobius


def test_every_statement_is_valid_clickhouse(database: Client) -> None:
    statements = role_statements("mobius")
    for statement in statements:
        database.query("SELECT formatQuery({q:String})", parameters={"q": statement})  # raises if invalid
    sink_grants = {s.split(" ON ")[1].split(" TO ")[0] for s in statements if "TO mobius_sink" in s}
    assert sink_grants == {f"mobius.{t}" for t in pipeline_tables()}
    assert "GRANT SELECT ON mobius.* TO mobius_analyst" in statements
    analyst = " ".join(s for s in statements if "mobius_analyst" in s)
    assert "INSERT" not in analyst and "readonly = 2 CONST" in analyst


def test_tables_follow_the_migrations(database: Client) -> None:
    created = {row[0] for row in database.query("SHOW TABLES").result_rows}
    assert created == set(pipeline_tables())


def test_a_database_name_cannot_smuggle_sql() -> None:
    with pytest.raises(ValueError, match="plain identifier"):
        role_statements("mobius; DROP TABLE completions")


def test_the_cli_prints_the_roles_and_refuses_an_embedded_store(stack_settings: MobiusSettings) -> None:
    env = settings_env(stack_settings)
    printed = run_mobius("roles", "--print", "--database", "analytics", env=env)
    assert printed.returncode == 0 and "GRANT SELECT ON analytics.* TO mobius_analyst;" in printed.stdout
    embedded = run_mobius("roles", env=env)
    assert embedded.returncode == 1 and "no users or roles" in embedded.stderr
