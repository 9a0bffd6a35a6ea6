import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from mobius.settings import MobiusSettings, settings_env


def test_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MOBIUS_"):
            monkeypatch.delenv(name)
    settings = MobiusSettings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.kafka_is_local and settings.redis_is_local
    assert settings.clickhouse_embedded
    assert settings.clickhouse_dsn == f"chdb://{Path('.mobius/clickhouse').resolve()}"
    assert settings.topics.queries == "mobius.queries"
    assert settings.router_config.name == "default_router.yaml" and settings.router_config.exists()


def test_environment_overrides_with_prefix_and_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBIUS_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("MOBIUS_TOPICS__REPLIES", "team.replies")
    monkeypatch.setenv("MOBIUS_KAFKA_SECURITY__PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MOBIUS_KAFKA_SECURITY__SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("MOBIUS_CLICKHOUSE_DSN", "https://analyst:pw@ch.example:8443/mobius")
    settings = MobiusSettings()
    assert settings.kafka_endpoints == [("kafka-1", 9092), ("kafka-2", 9092)]
    assert not settings.kafka_is_local
    assert settings.topics.replies == "team.replies"
    assert settings.topics.queries == "mobius.queries"
    assert settings.kafka_security.protocol == "SASL_SSL"
    assert not settings.clickhouse_embedded


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBIUS_KAFKA_SECURITY__SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("MOBIUS_REDIS_PASSWORD", "swordfish")
    text = repr(MobiusSettings()) + str(MobiusSettings().model_dump())
    assert "hunter2" not in text and "swordfish" not in text


def test_settings_are_frozen() -> None:
    settings = MobiusSettings()
    with pytest.raises(ValidationError):
        settings.kafka_partitions = 1  # type: ignore[misc]


def test_unknown_security_protocol_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBIUS_KAFKA_SECURITY__PROTOCOL", "TLS")
    with pytest.raises(ValidationError, match="protocol"):
        MobiusSettings()


def test_a_local_tls_broker_is_trusted_through_the_ca_mobius_up_makes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MOBIUS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("MOBIUS_KAFKA_SECURITY__PROTOCOL", "SASL_SSL")
    settings = MobiusSettings()
    assert settings.kafka.security.ssl_cafile == tmp_path / "kafka" / "tls" / "ca.pem"
    own_ca = tmp_path / "company-ca.pem"
    monkeypatch.setenv("MOBIUS_KAFKA_SECURITY__SSL_CAFILE", str(own_ca))
    assert MobiusSettings().kafka.security.ssl_cafile == own_ca  # one given is kept
    monkeypatch.delenv("MOBIUS_KAFKA_SECURITY__SSL_CAFILE")
    monkeypatch.setenv("MOBIUS_KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9093")
    assert MobiusSettings().kafka.security.ssl_cafile is None  # remote: the system's CAs
    monkeypatch.setenv("MOBIUS_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    monkeypatch.setenv("MOBIUS_KAFKA_SECURITY__PROTOCOL", "SASL_PLAINTEXT")
    assert MobiusSettings().kafka.security.ssl_cafile is None  # no TLS, no CA


def test_lane_topics_follow_the_queries_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBIUS_TOPICS__QUERIES", "team.queries")
    topics = MobiusSettings().topics
    assert topics.lanes() == {
        "free": "team.queries.free",
        "pro": "team.queries.pro",
        "enterprise": "team.queries.enterprise",
    }
    assert topics.inputs()[0] == "team.queries" and set(topics.inputs()[1:]) == set(topics.lanes().values())
    # The worker and `mobius up` create every topic in all(): the broker auto-creates nothing.
    assert set(topics.inputs()) <= set(topics.all())


def test_lane_weights_come_from_json_and_reach_a_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBIUS_WORKER_LANE_WEIGHTS", '{"enterprise": 9, "pro": 3, "free": 1}')
    settings = MobiusSettings()
    assert settings.worker.lane_weights == {"enterprise": 9, "pro": 3, "free": 1}
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    assert MobiusSettings().worker_lane_weights == settings.worker_lane_weights


def test_a_lane_weight_for_an_unknown_tier_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBIUS_WORKER_LANE_WEIGHTS", '{"gold": 9}')
    with pytest.raises(ValidationError, match="gold"):
        MobiusSettings()
