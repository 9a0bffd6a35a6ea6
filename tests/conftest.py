"""Shared fixtures: one real local stack (Kafka, Redis, embedded ClickHouse) per test session.

The session's stack runs on free ports under a temporary state directory, so it never collides
with a developer's own `mobius up`. chDB allows one data path per process, so every in-process
ClickHouse test shares the session's path and isolates itself with its own database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobius.settings import MobiusSettings
from mobius.stack import LocalStack
from streams.topics import ensure_topics
from tests.support.cli import local_settings

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tiers follow the folder: tests/unit -> unit, tests/integration -> integration, tests/e2e -> e2e."""
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        if tier in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MobiusSettings]:
    settings = local_settings(tmp_path_factory.mktemp("stack"))
    stack = LocalStack(settings)
    stack.up()
    try:
        asyncio.run(ensure_topics(settings.kafka, settings.topics.all()))
        yield settings
    finally:
        stack.down()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for per-test topic, key and database names."""
    return uuid.uuid4().hex[:10]
