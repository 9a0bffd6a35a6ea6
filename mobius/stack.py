"""The local stand-ins for the outside world, started and stopped together.

Only services whose address is on this machine are managed; a remote Kafka, Redis or ClickHouse
server is reported by status but never started or stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.clickhouse import ClickHouseUnavailable, connect, redact_dsn, server_version
from infra.kafka_broker import KAFKA_VERSION, KafkaBroker, KafkaBrokerConfig
from infra.redis_server import RedisServer, RedisServerConfig
from mobius.settings import MobiusSettings


@dataclass(frozen=True)
class ServiceStatus:
    """One local service as `mobius status` shows it."""

    name: str
    address: str
    managed: bool
    running: bool
    healthy: bool
    pid: int | None = None
    detail: str = ""


class LocalStack:
    """The local Kafka and Redis (and the embedded ClickHouse path) of one state directory."""

    def __init__(self, settings: MobiusSettings) -> None:
        self.settings = settings
        state = settings.state_dir.resolve()
        self.kafka: KafkaBroker | None = None
        if settings.kafka_is_local:
            host, port = settings.kafka_endpoints[0]
            self.kafka = KafkaBroker(
                KafkaBrokerConfig(
                    host=host,
                    port=port,
                    controller_port=settings.kafka_controller_port,
                    partitions=settings.kafka_partitions,
                    max_message_bytes=settings.kafka_max_message_bytes,
                    run_dir=state / "kafka",
                    cache_dir=settings.cache_dir,
                    java=settings.java_command,
                    maven=settings.maven_command,
                )
            )
        self.redis: RedisServer | None = None
        if settings.redis_is_local:
            host, port = settings.redis_host_port
            self.redis = RedisServer(RedisServerConfig(host=host, port=port, run_dir=state / "redis"))

    def up(self) -> list[str]:
        """Start what is not running; the names of the services started now."""
        # Check everything first so a missing tool or a taken port starts nothing.
        if self.redis is not None and not self.redis.process.is_running():
            self.redis.preflight()
        if self.kafka is not None and not self.kafka.process.is_running():
            self.kafka.preflight()
        started = []
        if self.redis is not None and self.redis.start():
            started.append("redis")
        if self.kafka is not None and self.kafka.start():
            started.append("kafka")
        if self.settings.clickhouse_embedded:
            self.settings.state_dir.joinpath("clickhouse").mkdir(parents=True, exist_ok=True)
        return started

    def down(self) -> list[str]:
        """Stop every managed service; the names of those that were running."""
        stopped = []
        if self.kafka is not None and self.kafka.stop():
            stopped.append("kafka")
        if self.redis is not None and self.redis.stop():
            stopped.append("redis")
        return stopped

    def status(self, probe_clickhouse: bool = True) -> list[ServiceStatus]:
        statuses = [self._kafka_status(), self._redis_status()]
        if probe_clickhouse:
            statuses.append(self._clickhouse_status())
        return statuses

    def _kafka_status(self) -> ServiceStatus:
        address = self.settings.kafka_bootstrap_servers
        if self.kafka is None:
            return ServiceStatus(
                "kafka", address, managed=False, running=True, healthy=False, detail="remote; not probed"
            )
        pid = self.kafka.process.pid()
        healthy = pid is not None and self.kafka.healthy()
        return ServiceStatus(
            "kafka",
            address,
            managed=True,
            running=pid is not None,
            healthy=healthy,
            pid=pid,
            detail=f"Apache Kafka {KAFKA_VERSION} (KRaft)",
        )

    def _redis_status(self) -> ServiceStatus:
        host, port = self.settings.redis_host_port
        if self.redis is None:
            return ServiceStatus(
                "redis",
                f"{host}:{port}",
                managed=False,
                running=True,
                healthy=False,
                detail="remote; not probed",
            )
        pid = self.redis.process.pid()
        healthy = pid is not None and self.redis.healthy()
        return ServiceStatus(
            "redis",
            f"{host}:{port}",
            managed=True,
            running=pid is not None,
            healthy=healthy,
            pid=pid,
            detail="redis-server",
        )

    def _clickhouse_status(self) -> ServiceStatus:
        dsn = self.settings.clickhouse_dsn
        embedded = self.settings.clickhouse_embedded
        try:
            client = connect(dsn, self.settings.clickhouse_password)
            version = server_version(client)
            client.close()
        except ClickHouseUnavailable as exc:
            return ServiceStatus(
                "clickhouse", redact_dsn(dsn), managed=False, running=embedded, healthy=False, detail=str(exc)
            )
        kind = "embedded chDB" if embedded else "server"
        return ServiceStatus(
            "clickhouse",
            redact_dsn(dsn),
            managed=False,
            running=True,
            healthy=True,
            detail=f"ClickHouse {version} ({kind})",
        )
