"""The one typed settings object, built once at the entry point and passed down.

Every value can be set with a ``MOBIUS_`` environment variable (nested values with ``__``, e.g.
``MOBIUS_TOPICS__QUERIES``). Nothing else in the code base reads the environment.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from analytics.config import ClickHouseConfig
from infra.kafka_tls import local_ca_file
from schemas.vocabulary import Tier
from streams.config import KafkaConfig, KafkaSecurity, RedisConfig, TopicNames, WorkerConfig
from streams.lanes import DEFAULT_WEIGHTS
from streams.reply_topics import ReplyTopics

DEFAULT_ROUTER_CONFIG = Path(__file__).resolve().parent.parent / "routing" / "default_router.yaml"


class MobiusSettings(BaseSettings):
    """Where every outside system is and how the local stand-ins run."""

    model_config = SettingsConfigDict(
        env_prefix="MOBIUS_", env_nested_delimiter="__", frozen=True, extra="ignore", populate_by_name=True
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    # The local broker's KRaft controller listener; unused when Kafka is remote.
    kafka_controller_port: int = 9093
    kafka_partitions: int = 6
    kafka_replication_factor: int = 1
    # Long-context prompts are megabytes: producers, broker and consumers must all allow it.
    kafka_max_message_bytes: int = 16 * 1024 * 1024

    # The route agent: queries handled at once per worker, and how soon a dead worker's
    # partitions are handed to the others.
    worker_group: str = "mobius-router"  # the Faust app id: workers sharing it share the load
    worker_max_in_flight: int = 512
    # Under overload, how the in-flight slots are shared by the lanes that have queries waiting
    # (JSON, e.g. {"enterprise": 16, "pro": 4, "free": 1}; see "Priority lanes" in the README).
    worker_lane_weights: dict[Tier, int] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    worker_session_timeout_s: float = 10.0
    # A streamed answer's pieces are joined into one ReplyChunk per this many ms (the first goes
    # out at once; 0: one chunk per piece the provider sends). See streams/pipeline/streaming.py.
    worker_stream_chunk_ms: int = Field(default=50, ge=0)
    # Each worker calls every deployment with one token this often (0: never); see `mobius health`.
    health_interval_s: float = 300.0
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_password: SecretStr | None = None

    # With a ClickHouse server, sinks share the completion topic's partitions in this group (the
    # embedded engine's one sink reads them all and commits its offsets here too).
    sink_group: str = "mobius-analytics-sink"
    sink_session_timeout_s: float = 10.0
    # A batch is written at this many rows or this age (in server mode, one insert per partition).
    sink_max_rows: int = 20000
    sink_max_wait_s: float = 0.5

    # chdb:///path selects the embedded engine; http(s)://host:port a ClickHouse server.
    clickhouse_dsn: str = ""
    clickhouse_password: SecretStr | None = None
    # Rows older than this leave the completions table and its rollups.
    analytics_ttl_days: int = 395
    # Where a running sink answers `mobius sql` / `mobius report` in embedded mode (loopback).
    analytics_query_port: int = 8791
    # Prometheus /metrics of this process (a worker or the sink); unset: no metrics endpoint.
    metrics_port: int | None = None
    # A worker's or the sink's tracemalloc growth report every this many seconds, written to
    # memory/<worker id or sink>.txt in its state directory (0: off; it slows allocation).
    memory_trace_s: float = Field(default=0.0, ge=0)
    # Where a worker exports its spans: none (the default: trace ids only, no SDK), console or
    # otlp. OpenTelemetry's standard variables are read too (MOBIUS_ ones win).
    traces_exporter: Literal["none", "console", "otlp"] = Field(
        default="none", validation_alias=AliasChoices("MOBIUS_TRACES_EXPORTER", "OTEL_TRACES_EXPORTER")
    )
    service_name: str = Field(
        default="mobius-worker", validation_alias=AliasChoices("MOBIUS_SERVICE_NAME", "OTEL_SERVICE_NAME")
    )

    router_config: Path = DEFAULT_ROUTER_CONFIG
    # Where the provider simulator listens: `mobius up` runs it there when no provider key is set.
    simulator_port: int = 8790
    # The providers' own variables (the router config reads them as os.environ/OPENAI_API_KEY).
    # With neither set, this is local mode: the provider simulator stands in for both.
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    topics: TopicNames = Field(default_factory=TopicNames)
    # Where a query may ask its reply to go; a pattern ending in `*` is a prefix. Empty: the
    # replies topic and every topic below it (`mobius.replies`, `mobius.replies.*`).
    reply_topic_patterns: tuple[str, ...] = ()

    state_dir: Path = Path(".mobius")
    # Downloaded artifacts (Kafka jars) are shared by every checkout on the machine.
    cache_dir: Path = Path.home() / ".cache" / "mobius"
    java_command: str = "java"
    maven_command: str = "mvn"

    @model_validator(mode="after")
    def _embedded_clickhouse_under_state_dir(self) -> MobiusSettings:
        # Absolute, so child processes started elsewhere (workers, the simulator) agree on it.
        object.__setattr__(self, "state_dir", self.state_dir.resolve())
        if not self.clickhouse_dsn:
            path = (self.state_dir / "clickhouse").resolve()
            object.__setattr__(self, "clickhouse_dsn", f"chdb://{path}")
        security = self.kafka_security
        if self.kafka_is_local and security.protocol in ("SSL", "SASL_SSL") and security.ssl_cafile is None:
            # The local broker's certificate is signed by a CA `mobius up` makes: trust that one.
            trusted = security.model_copy(update={"ssl_cafile": local_ca_file(self.local_kafka_dir)})
            object.__setattr__(self, "kafka_security", trusted)
        return self

    @property
    def local_kafka_dir(self) -> Path:
        """Where the local broker keeps its data, config, logs and TLS files."""
        return self.state_dir / "kafka"

    @property
    def provider_mode(self) -> Literal["providers", "simulator"]:
        """`simulator` (local mode) when no provider key is set, else `providers`."""
        return "providers" if self.openai_api_key or self.anthropic_api_key else "simulator"

    @property
    def kafka(self) -> KafkaConfig:
        return KafkaConfig(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security=self.kafka_security,
            partitions=self.kafka_partitions,
            replication_factor=self.kafka_replication_factor,
            max_message_bytes=self.kafka_max_message_bytes,
        )

    @property
    def redis(self) -> RedisConfig:
        return RedisConfig(url=self.redis_url, password=self.redis_password)

    @property
    def clickhouse(self) -> ClickHouseConfig:
        return ClickHouseConfig(
            dsn=self.clickhouse_dsn,
            password=self.clickhouse_password,
            ttl_days=self.analytics_ttl_days,
            query_port=self.analytics_query_port,
            query_token_file=self.state_dir / "sink" / "analyst-token",
        )

    @property
    def reply_topics(self) -> ReplyTopics:
        patterns = self.reply_topic_patterns
        return ReplyTopics(patterns) if patterns else ReplyTopics.under(self.topics.replies)

    @property
    def worker(self) -> WorkerConfig:
        return WorkerConfig(
            group=self.worker_group,
            max_in_flight=self.worker_max_in_flight,
            lane_weights=self.worker_lane_weights,
            session_timeout_s=self.worker_session_timeout_s,
            worker_id=self.worker_id,
            data_dir=self.state_dir / "faust",
        )

    @property
    def clickhouse_embedded(self) -> bool:
        return self.clickhouse.embedded

    @property
    def kafka_is_local(self) -> bool:
        return all(_is_loopback(host) for host, _ in self.kafka_endpoints)

    @property
    def kafka_endpoints(self) -> list[tuple[str, int]]:
        return self.kafka.endpoints

    @property
    def redis_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.redis_url)
        return parts.hostname or "127.0.0.1", parts.port or 6379

    @property
    def redis_is_local(self) -> bool:
        return _is_loopback(self.redis_host_port[0])


def settings_env(settings: MobiusSettings) -> dict[str, str]:
    """The MOBIUS_ variables that give a child process these same settings."""
    env: dict[str, str] = {}

    def put(name: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, BaseModel):
            for field in type(value).model_fields:
                put(f"{name}__{field.upper()}", getattr(value, field))
            return
        if isinstance(value, tuple | list | dict):
            # pydantic-settings reads lists and mappings as JSON
            env[name] = json.dumps(value if isinstance(value, dict) else list(value))
            return
        env[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    for field, info in MobiusSettings.model_fields.items():
        # Each process has its own worker id; provider keys keep their own names (not MOBIUS_).
        if field != "worker_id" and info.validation_alias is None:
            put(f"MOBIUS_{field.upper()}", getattr(settings, field))
    return env


def _is_loopback(host: str) -> bool:
    return host in {"localhost", "::1"} or host.startswith("127.")
