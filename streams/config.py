"""The small, frozen configuration the Kafka runtime takes (built from the settings at the entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from schemas.vocabulary import TIERS, Tier
from streams.lanes import DEFAULT_WEIGHTS


class TopicNames(BaseModel):
    """Kafka topic names; each test or deployment may use its own.

    Queries come in on one topic per priority lane, named after the queries topic
    (`mobius.queries.enterprise`, `.pro`, `.free`); the client publishes to its query's tier's.
    The queries topic itself stays an input for callers that publish there, each query then
    taking the lane of its tier.
    """

    model_config = ConfigDict(frozen=True)

    queries: str = "mobius.queries"
    replies: str = "mobius.replies"
    completions: str = "mobius.completions"
    dlq: str = "mobius.dlq"
    alerts: str = "mobius.alerts"

    def lane(self, tier: Tier) -> str:
        """The queries topic of one tier's lane."""
        return f"{self.queries}.{tier}"

    def lanes(self) -> dict[Tier, str]:
        return {tier: self.lane(tier) for tier in TIERS}

    def inputs(self) -> list[str]:
        """Every topic the route agent consumes: the queries topic and each lane's."""
        return [self.queries, *self.lanes().values()]

    def all(self) -> list[str]:
        """Every topic the pipeline owns (the worker and `mobius up` create them)."""
        return [*self.model_dump().values(), *self.lanes().values()]


class KafkaSecurity(BaseModel):
    """Client-side security options, passed through to aiokafka unchanged."""

    model_config = ConfigDict(frozen=True)

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None


class KafkaConfig(BaseModel):
    """Where the brokers are, how to reach them, and how new topics are made."""

    model_config = ConfigDict(frozen=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    security: KafkaSecurity = KafkaSecurity()
    partitions: int = 6
    replication_factor: int = 1
    # Long-context prompts are megabytes: producers, broker and consumers must all allow it.
    max_message_bytes: int = 16 * 1024 * 1024

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        endpoints = []
        for server in self.bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            endpoints.append((host or "127.0.0.1", int(port)))
        return endpoints


class RedisConfig(BaseModel):
    """Where Redis is; every connection the pipeline and the tools open comes from this."""

    model_config = ConfigDict(frozen=True)

    url: str = "redis://127.0.0.1:6379/0"
    password: SecretStr | None = None


class WorkerConfig(BaseModel):
    """One router worker: its consumer group, concurrency and identity."""

    model_config = ConfigDict(frozen=True)

    group: str = "mobius-router"
    max_in_flight: int = 512
    # How the slots are shared between the lanes when queries wait (see streams/lanes.py).
    lane_weights: dict[Tier, int] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    session_timeout_s: float = 10.0
    worker_id: str = "worker"
    data_dir: Path = Path(".mobius/faust")
