"""A single-node Apache Kafka (KRaft) broker run from Maven Central jars with the local Java.

The jars are resolved once by Maven from `infra/kafka/pom.xml` into a cache shared by every
checkout; the broker's data, config and logs live under the state directory.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import PortInUse, ServiceFailedToStart, ToolMissing
from infra.kafka_auth import (
    broker_login,
    listener_properties,
    login_fingerprint,
    scram_format_argument,
    uses_tls,
)
from infra.kafka_tls import BrokerTls, issue_broker_tls, require_openssl
from infra.ports import port_is_free
from infra.procs import ManagedProcess
from streams.config import KafkaConfig, KafkaSecurity
from streams.kafka_access import broker_count

POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
KAFKA_VERSION = re.search(r"<kafka.version>([^<]+)<", POM.read_text()).group(1)  # type: ignore[union-attr]
MIN_JAVA = 17


@dataclass(frozen=True)
class KafkaBrokerConfig:
    """Where and how the local KRaft broker runs."""

    host: str
    port: int
    controller_port: int
    partitions: int
    run_dir: Path
    cache_dir: Path
    max_message_bytes: int = 16 * 1024 * 1024
    # The client listener serves the clients' own protocol and login (see infra/kafka_auth.py).
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    java: str = "java"
    maven: str = "mvn"
    openssl: str = "openssl"
    heap: str = "768m"

    @property
    def jar_dir(self) -> Path:
        return self.cache_dir / f"kafka-{KAFKA_VERSION}"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def client(self) -> KafkaConfig:
        """How a client reaches this broker (the health check is one)."""
        return KafkaConfig(bootstrap_servers=f"{self.host}:{self.port}", security=self.security)


def render_server_properties(cfg: KafkaBrokerConfig, tls: BrokerTls | None = None) -> str:
    """Combined broker+controller, one node, replication factor 1 everywhere."""
    listener = cfg.security.protocol
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{cfg.host}:{cfg.controller_port}",
        "listeners": f"{listener}://{cfg.host}:{cfg.port},CONTROLLER://{cfg.host}:{cfg.controller_port}",
        "advertised.listeners": f"{listener}://{cfg.host}:{cfg.port}",
        "controller.listener.names": "CONTROLLER",
        **listener_properties(cfg.security, tls),
        "log.dirs": str(cfg.data_dir),
        "num.partitions": str(cfg.partitions),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Tests and the demo join groups constantly; the 3 s default only adds latency here.
        "group.initial.rebalance.delay.ms": "0",
        # Only the pipeline and its callers create topics, never a produce to a name (issue 16).
        "auto.create.topics.enable": "false",
        "message.max.bytes": str(cfg.max_message_bytes),
        "replica.fetch.max.bytes": str(cfg.max_message_bytes),
    }
    return "".join(f"{key}={properties_value(value)}\n" for key, value in props.items())


def properties_value(value: str) -> str:
    """A value as java.util.Properties reads it back (ISO-8859-1 file, backslash escapes)."""
    out = []
    for char in value:
        if char in _PROPERTIES_ESCAPES:
            out.append(_PROPERTIES_ESCAPES[char])
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.extend(f"\\u{unit:04x}" for unit in _utf16_units(char))
    text = "".join(out)
    return "\\" + text if text.startswith(" ") else text  # leading blanks would be dropped


_PROPERTIES_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def _utf16_units(char: str) -> list[int]:
    raw = char.encode("utf-16-be")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def render_log4j2(cfg: KafkaBrokerConfig) -> str:
    log = cfg.run_dir / "server.log"
    return f"""Configuration:
  Appenders:
    RollingFile:
      name: file
      fileName: "{log}"
      filePattern: "{log}.%i"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
      SizeBasedTriggeringPolicy:
        size: 50MB
      DefaultRolloverStrategy:
        max: 3
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: file
"""


class KafkaBroker:
    """The local Apache Kafka broker (KRaft, one node), from Maven Central jars."""

    def __init__(self, cfg: KafkaBrokerConfig) -> None:
        self.cfg = cfg
        self.process = ManagedProcess("kafka", cfg.run_dir)

    def preflight(self) -> str:
        """Check Java, Maven (only while the jars are not cached) and ports; the java path."""
        java = require_java(self.cfg.java)
        if not (self.cfg.jar_dir / ".complete").exists():
            self._require_maven()
        broker_login(self.cfg.security)  # a SASL protocol without a login starts nothing
        if uses_tls(self.cfg.security):
            require_openssl(self.cfg.openssl)
        for port in (self.cfg.port, self.cfg.controller_port):
            if not port_is_free(self.cfg.host, port):
                raise PortInUse(
                    f"Kafka needs {self.cfg.host}:{port}, but another process listens there. "
                    "Stop it or choose other ports with MOBIUS_KAFKA_BOOTSTRAP_SERVERS / "
                    "MOBIUS_KAFKA_CONTROLLER_PORT."
                )
        return java

    def start(self, ready_timeout_s: float = 90.0) -> bool:
        """Start unless running; False when it already ran (up twice is harmless)."""
        if self.process.is_running():
            return False
        java = self.preflight()
        self.ensure_jars()
        self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
        tls = (
            issue_broker_tls(self.cfg.run_dir, self.cfg.host, self.cfg.openssl)
            if uses_tls(self.cfg.security)
            else None
        )
        # Owner-only: with SASL it holds the broker's login.
        _write_private(self.cfg.run_dir / "server.properties", render_server_properties(self.cfg, tls))
        (self.cfg.run_dir / "log4j2.yaml").write_text(render_log4j2(self.cfg))
        self._format_storage(java)
        properties = str(self.cfg.run_dir / "server.properties")
        self.process.start(self._java_argv(java, "kafka.Kafka", properties))
        what = f"Kafka (a metadata response; log {self.cfg.run_dir / 'server.log'})"
        self.process.wait_ready(lambda: self.healthy(timeout_s=2.0), what, ready_timeout_s, poll_s=0.2)
        return True

    def stop(self) -> bool:
        return self.process.stop(timeout_s=30.0)

    def healthy(self, timeout_s: float = 5.0) -> bool:
        try:
            return asyncio.run(broker_count(self.cfg.client, timeout_s)) > 0
        except Exception:  # noqa: BLE001 - any failure to answer means not healthy
            return False

    def ensure_jars(self) -> Path:
        """Fetch the broker's jars with Maven once; later calls find them in the cache."""
        jar_dir = self.cfg.jar_dir
        if (jar_dir / ".complete").exists():
            return jar_dir
        maven = self._require_maven()
        partial = jar_dir.with_name(jar_dir.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        result = subprocess.run(  # noqa: S603 - fixed argv
            [
                maven,
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceFailedToStart(
                f"Maven could not fetch the Kafka jars:\n{(result.stdout + result.stderr)[-2000:]}"
            )
        (partial / ".complete").write_text(KAFKA_VERSION)
        shutil.rmtree(jar_dir, ignore_errors=True)
        partial.rename(jar_dir)
        return jar_dir

    def _require_maven(self) -> str:
        maven = shutil.which(self.cfg.maven)
        if maven is None:
            raise ToolMissing(
                f"Maven ('{self.cfg.maven}') is needed once to fetch the Kafka {KAFKA_VERSION} jars "
                "and was not found. Install it with: apt-get install -y maven"
            )
        return maven

    def _format_storage(self, java: str) -> None:
        login = broker_login(self.cfg.security)
        fingerprint = self.cfg.run_dir / "formatted-login.sha256"
        if (self.cfg.data_dir / "meta.properties").exists():
            formatted = fingerprint.read_text().strip() if fingerprint.exists() else "none"
            if formatted != login_fingerprint(login):
                raise ServiceFailedToStart(
                    f"The local Kafka's data ({self.cfg.data_dir}) was formatted for another SASL "
                    "login: SCRAM users are created only when the storage is formatted. Use the "
                    "username, password and mechanism it was made with, or stop Kafka (mobius down) "
                    "and delete that directory to start afresh (its topics are lost)."
                )
            return
        scram = []
        if login is not None and login.mechanism.startswith("SCRAM"):
            # One argument with "=", as for the cluster id below.
            scram.append(f"--add-scram={scram_format_argument(login)}")
        cluster_id = _kafka_cluster_id()
        result = subprocess.run(  # noqa: S603 - fixed argv
            self._java_argv(
                java,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                # One argument with "=": a random id may start with "-", which argparse takes for a flag.
                f"--cluster-id={cluster_id}",
                *scram,
                "-c",
                str(self.cfg.run_dir / "server.properties"),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceFailedToStart(f"Formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
        _write_private(fingerprint, login_fingerprint(login) + "\n")

    def _java_argv(self, java: str, main_class: str, *args: str) -> list[str]:
        return [
            java,
            f"-Xmx{self.cfg.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.cfg.run_dir / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.cfg.run_dir}",
            "-cp",
            f"{self.cfg.jar_dir}/*",
            main_class,
            *args,
        ]


def require_java(command: str) -> str:
    java = shutil.which(command)
    if java is None:
        raise ToolMissing(
            f"Java {MIN_JAVA}+ ('{command}') is needed to run Kafka and was not found. "
            "Install it with: apt-get install -y openjdk-17-jre-headless"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)  # noqa: S603
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    if match is None or int(match.group(1)) < MIN_JAVA:
        raise ToolMissing(
            f"Kafka {KAFKA_VERSION} needs Java {MIN_JAVA}+; '{java}' reports: {out.stderr.strip()}"
        )
    return java


def _kafka_cluster_id() -> str:
    # Kafka's cluster id is a UUID in URL-safe base64 without padding (what `random-uuid` prints).
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file existed with wider rights
    with os.fdopen(fd, "w") as out:
        out.write(text)
