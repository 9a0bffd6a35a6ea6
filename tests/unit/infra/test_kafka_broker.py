import os
import stat
from pathlib import Path

import pytest

from infra.errors import ToolMissing
from infra.kafka_broker import (
    KAFKA_VERSION,
    KafkaBrokerConfig,
    render_server_properties,
    require_java,
)


def _config(tmp_path: Path) -> KafkaBrokerConfig:
    return KafkaBrokerConfig(
        host="127.0.0.1",
        port=19092,
        controller_port=19093,
        partitions=6,
        run_dir=tmp_path / "kafka",
        cache_dir=tmp_path / "cache",
    )


def test_server_properties_describe_a_single_kraft_node(tmp_path: Path) -> None:
    props = dict(line.split("=", 1) for line in render_server_properties(_config(tmp_path)).splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["num.partitions"] == "6"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "data")


def test_jar_cache_is_per_kafka_version(tmp_path: Path) -> None:
    assert KAFKA_VERSION.startswith("4.")
    assert _config(tmp_path).jar_dir == tmp_path / "cache" / f"kafka-{KAFKA_VERSION}"


def test_missing_java_says_how_to_install_it() -> None:
    with pytest.raises(ToolMissing, match="apt-get install -y openjdk-17"):
        require_java("/nonexistent/java")


def test_old_java_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(ToolMissing, match="needs Java 17"):
        require_java(str(fake))


def test_installed_java_is_accepted() -> None:
    assert os.path.basename(require_java("java")).startswith("java")
