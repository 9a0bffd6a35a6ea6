"""The local stand-ins for the outside world, started and stopped together.

Only services whose address is on this machine are managed; a remote Kafka, Redis or ClickHouse
server is reported by status but never started or stopped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from analytics.clickhouse import ClickHouseUnavailable, connect, redact_dsn, server_version
from infra.kafka_broker import KAFKA_VERSION, KafkaBroker, KafkaBrokerConfig
from infra.redis_server import RedisServer, RedisServerConfig
from infra.simulator.launcher import Simulator
from mobius.settings import MobiusSettings
from mobius.workers import stop_registered_workers
from streams.config import KafkaSecurity
from streams.kafka_access import refusal_reason
from streams.kafka_options import sasl_mechanism


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


def simulator_dir(settings: MobiusSettings) -> Path:
    return settings.state_dir.resolve() / "simulator"


def local_simulator(settings: MobiusSettings) -> Simulator | None:
    """The managed provider simulator in local mode (no provider key set), else None."""
    if settings.provider_mode != "simulator":
        return None
    return Simulator(settings.simulator_port, simulator_dir(settings))


def listener_description(security: KafkaSecurity) -> str:
    """`SASL_SSL SCRAM-SHA-512`, `SSL`, `PLAINTEXT`: how clients reach the broker."""
    if security.protocol.startswith("SASL"):
        return f"{security.protocol} {sasl_mechanism(security)}"
    return security.protocol


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
                    security=settings.kafka_security,
                    run_dir=settings.local_kafka_dir,
                    cache_dir=settings.cache_dir,
                    java=settings.java_command,
                    maven=settings.maven_command,
                )
            )
        self.redis: RedisServer | None = None
        if settings.redis_is_local:
            host, port = settings.redis_host_port
            password = settings.redis_password.get_secret_value() if settings.redis_password else None
            self.redis = RedisServer(
                RedisServerConfig(
                    host=host,
                    port=port,
                    run_dir=state / "redis",
                    password=password,
                    username=urlsplit(settings.redis_url).username,
                )
            )
        # Local mode: with no provider key set, the provider simulator stands in for the providers.
        self.simulator = local_simulator(settings)

    def up(self, simulator: bool = True) -> list[str]:
        """Start what is not running (the simulator too in local mode, unless `simulator` is
        False: the demo and the bench run their own); the names of the services started now."""
        local_sim = self.simulator if simulator else None
        # Check everything first so a missing tool or a taken port starts nothing.
        if self.redis is not None and not self.redis.process.is_running():
            self.redis.preflight()
        if self.kafka is not None and not self.kafka.process.is_running():
            self.kafka.preflight()
        if local_sim is not None and not local_sim.process.is_running():
            local_sim.preflight()
        started = []
        if self.redis is not None and self.redis.start():
            started.append("redis")
        if self.kafka is not None and self.kafka.start():
            started.append("kafka")
        if local_sim is not None and not local_sim.process.is_running():
            local_sim.start()
            started.append("simulator")
        if self.settings.clickhouse_embedded:
            self.settings.state_dir.joinpath("clickhouse").mkdir(parents=True, exist_ok=True)
        return started

    def down(self, only: list[str] | None = None) -> list[str]:
        """Stop the workers `mobius worker` registered here and every managed service (or just
        those named in `only`); the names of those that were running."""
        stopped = [f"worker {pid}" for pid in stop_registered_workers(self.settings.state_dir)]
        services = {"kafka": self.kafka, "redis": self.redis, "simulator": self._any_simulator()}
        for name, service in services.items():
            if service is not None and (only is None or name in only) and service.stop():
                stopped.append(name)
        return stopped

    def status(self, probe_clickhouse: bool = True) -> list[ServiceStatus]:
        statuses = [self._kafka_status(), self._redis_status(), self._providers_status()]
        if probe_clickhouse:
            statuses.append(self._clickhouse_status())
        return statuses

    def describe(self) -> list[str]:
        """One phrase per service, for `mobius dev`'s ready line."""
        parts = [f"kafka {self.settings.kafka_bootstrap_servers}", f"redis {self.settings.redis_url}"]
        if self.simulator is not None:
            parts.append(f"provider simulator {self.simulator.url} (local mode: no provider keys)")
        return parts

    def _any_simulator(self) -> Simulator:
        """The local simulator, even in providers mode: `down` must leave no process behind."""
        return self.simulator or Simulator(self.settings.simulator_port, simulator_dir(self.settings))

    def _providers_status(self) -> ServiceStatus:
        if self.simulator is None:
            keys = [
                n
                for n, v in (
                    ("OPENAI_API_KEY", self.settings.openai_api_key),
                    ("ANTHROPIC_API_KEY", self.settings.anthropic_api_key),
                )
                if v
            ]
            detail = f"real providers: {', '.join(keys)} set; the simulator is not used"
            return ServiceStatus(
                "providers", "provider APIs", managed=False, running=True, healthy=True, detail=detail
            )
        pid = self.simulator.process.pid()
        return ServiceStatus(
            "simulator",
            self.simulator.url,
            managed=True,
            running=pid is not None,
            healthy=pid is not None and self.simulator.answers(),
            pid=pid,
            detail="local mode: no provider keys set, the provider simulator answers",
        )

    def _kafka_status(self) -> ServiceStatus:
        address = self.settings.kafka_bootstrap_servers
        if self.kafka is None:
            return ServiceStatus(
                "kafka", address, managed=False, running=True, healthy=False, detail="remote; not probed"
            )
        pid = self.kafka.process.pid()
        healthy = pid is not None and self.kafka.healthy()
        detail = f"Apache Kafka {KAFKA_VERSION} (KRaft), {listener_description(self.settings.kafka_security)}"
        if pid is not None and not healthy:
            detail = asyncio.run(refusal_reason(self.settings.kafka)) or detail
        return ServiceStatus(
            "kafka",
            address,
            managed=True,
            running=pid is not None,
            healthy=healthy,
            pid=pid,
            detail=detail,
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
