"""The one place a Redis client is built: every adapter, tool and test gets it from here."""

from __future__ import annotations

from urllib.parse import urlsplit

from redis.asyncio import Redis

from routing.router_config import RedisParams
from streams.config import RedisConfig


def redis_client(config: RedisConfig) -> Redis:
    """An asyncio Redis client for `config` (URL plus the password kept out of the URL)."""
    password = config.password.get_secret_value() if config.password else None
    return Redis.from_url(config.url, password=password)


def router_redis(config: RedisConfig) -> RedisParams:
    """The same Redis for LiteLLM's Router (its rpm/tpm counters and cooldowns)."""
    parts = urlsplit(config.url)
    password = config.password.get_secret_value() if config.password else parts.password
    return RedisParams(parts.hostname or "127.0.0.1", parts.port or 6379, password, parts.username or None)
