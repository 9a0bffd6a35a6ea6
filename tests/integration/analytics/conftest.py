"""Each analytics test gets its own database (with the migrations applied) on the session's chDB path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from analytics.clickhouse import connect
from analytics.migrations import apply_migrations
from mobius.settings import MobiusSettings


@pytest.fixture
def database(stack_settings: MobiusSettings) -> Iterator[Client]:
    yield from _fresh_database(stack_settings)


@pytest.fixture
def second_database(stack_settings: MobiusSettings) -> Iterator[Client]:
    """Another one beside `database`, for tests that write the same records two ways."""
    yield from _fresh_database(stack_settings)


def _fresh_database(stack_settings: MobiusSettings) -> Iterator[Client]:
    name = f"sink_{uuid.uuid4().hex[:8]}"
    admin = connect(stack_settings.clickhouse_dsn)
    admin.command(f"CREATE DATABASE {name}")
    client = connect(stack_settings.clickhouse_dsn, database=name)
    apply_migrations(client, ttl_days=30)
    try:
        yield client
    finally:
        admin.command(f"DROP DATABASE {name}")
