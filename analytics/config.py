"""The small, frozen configuration the analytics package takes (built from the settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr


class ClickHouseConfig(BaseModel):
    """Where the analytics store is: `chdb:///path` (embedded) or `http(s)://user@host:port/db`."""

    model_config = ConfigDict(frozen=True)

    dsn: str
    password: SecretStr | None = None
    # Rows older than this leave the completions table and its rollups.
    ttl_days: int = 395
    # Where a running sink answers `mobius sql` / `mobius report` in embedded mode (loopback).
    query_port: int = 8791
    # The endpoint's bearer token (written by the sink, owner-only); None: no token is sent.
    query_token_file: Path | None = None

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb://")
