"""docker-compose.yml cannot run here (no Docker engine); check it declares what the code expects."""

import tomllib
from pathlib import Path

import pytest
import yaml

from mobius.settings import MobiusSettings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
# The variables a worker or sink cannot run without in a real deployment.
REQUIRED = {
    "MOBIUS_KAFKA_BOOTSTRAP_SERVERS",
    "MOBIUS_REDIS_URL",
    "MOBIUS_CLICKHOUSE_DSN",
    "MOBIUS_ROUTER_CONFIG",
    "MOBIUS_STATE_DIR",
    *(f"MOBIUS_TOPICS__{name.upper()}" for name in ("queries", "replies", "completions", "dlq", "alerts")),
}


@pytest.fixture(scope="module")
def compose() -> dict[str, dict[str, dict[str, object]]]:
    data: dict[str, dict[str, dict[str, object]]] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_topology_uses_official_images(compose: dict[str, dict[str, dict[str, object]]]) -> None:
    services = compose["services"]
    assert set(services) >= {"kafka", "redis", "clickhouse", "router", "sink"}
    assert str(services["kafka"]["image"]).startswith("apache/kafka:4.")
    assert str(services["redis"]["image"]).startswith("redis:")
    assert str(services["clickhouse"]["image"]).startswith("clickhouse/clickhouse-server:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # type: ignore[index]


@pytest.mark.parametrize("service", ["router", "sink"])
def test_app_services_declare_every_setting(
    service: str, compose: dict[str, dict[str, dict[str, object]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: str(v) for k, v in compose["services"][service]["environment"].items()}  # type: ignore[attr-defined]
    assert set(env) >= REQUIRED
    # Every declared MOBIUS_ variable must be one the settings really read, with the value given.
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace("${CLICKHOUSE_PASSWORD:-change-me}", "pw"))
    settings = MobiusSettings()
    assert settings.kafka_bootstrap_servers == env["MOBIUS_KAFKA_BOOTSTRAP_SERVERS"]
    assert settings.redis_url == env["MOBIUS_REDIS_URL"]
    assert settings.clickhouse_dsn == env["MOBIUS_CLICKHOUSE_DSN"]
    assert str(settings.router_config) == env["MOBIUS_ROUTER_CONFIG"]
    assert settings.topics.dlq == env["MOBIUS_TOPICS__DLQ"]
    known = {f"MOBIUS_{name.upper()}" for name in MobiusSettings.model_fields}
    for key in env:
        if key.startswith("MOBIUS_"):
            assert key.split("__")[0] in known, f"{key} is not a setting"


def test_image_holds_every_package_the_build_installs() -> None:
    """The image copies each package pyproject builds (a package left out fails `uv sync` there,
    and no Docker engine here would notice), and compiles its bytecode at build time."""
    root = COMPOSE.parent
    hatch = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]
    packages = hatch["build"]["targets"]["wheel"]["packages"]
    dockerfile = (root / "Dockerfile").read_text()
    copied = {line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")}
    assert set(packages) <= copied, f"the Dockerfile does not copy {sorted(set(packages) - copied)}"
    assert "--compile-bytecode" in dockerfile
