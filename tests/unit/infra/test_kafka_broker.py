import base64
import dataclasses
import hashlib
import os
import ssl
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from infra.errors import ServiceFailedToStart, SettingMissing, ToolMissing
from infra.kafka_auth import broker_login, jaas_config, login_fingerprint, scram_format_argument
from infra.kafka_broker import (
    KAFKA_VERSION,
    KafkaBroker,
    KafkaBrokerConfig,
    properties_value,
    render_server_properties,
    require_java,
)
from infra.kafka_tls import BrokerTls, issue_broker_tls, local_ca_file, subject_alt_names
from streams.config import KafkaSecurity
from streams.kafka_options import Sasl


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


def _secured(tmp_path: Path, mechanism: str) -> KafkaBrokerConfig:
    security = KafkaSecurity(
        protocol="SASL_SSL", sasl_mechanism=mechanism, sasl_username="app", sasl_password=SecretStr("s3cret")
    )
    return dataclasses.replace(_config(tmp_path), security=security)


def _tls(tmp_path: Path) -> BrokerTls:
    return BrokerTls(ca_file=tmp_path / "ca.pem", keystore_file=tmp_path / "server-keystore.pem")


def _props(cfg: KafkaBrokerConfig, tls: BrokerTls | None) -> dict[str, str]:
    return dict(line.split("=", 1) for line in render_server_properties(cfg, tls).splitlines())


def test_plaintext_keeps_one_plaintext_client_listener(tmp_path: Path) -> None:
    props = _props(_config(tmp_path), None)
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert not any(key.startswith(("ssl.", "sasl.", "listener.name.")) for key in props)


def test_sasl_ssl_scram_serves_only_tls_with_a_login_and_a_plaintext_controller(tmp_path: Path) -> None:
    props = _props(_secured(tmp_path, "SCRAM-SHA-512"), _tls(tmp_path))
    assert props["listeners"] == "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:19092"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["ssl.keystore.type"] == "PEM" and props["ssl.truststore.type"] == "PEM"
    assert props["ssl.keystore.location"] == str(tmp_path / "server-keystore.pem")
    assert props["ssl.truststore.location"] == str(tmp_path / "ca.pem")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    jaas = props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert jaas.startswith("org.apache.kafka.common.security.scram.ScramLoginModule required ")
    assert 'username="app"' in jaas and 'password="s3cret"' in jaas and "user_" not in jaas


def test_plain_declares_its_one_user_in_the_jaas_line(tmp_path: Path) -> None:
    props = _props(_secured(tmp_path, "PLAIN"), _tls(tmp_path))
    jaas = props["listener.name.sasl_ssl.plain.sasl.jaas.config"]
    assert jaas == (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="app" password="s3cret" user_app="s3cret";'
    )


def test_odd_passwords_survive_jaas_and_properties_quoting() -> None:
    login = Sasl("PLAIN", "app", 'a "b" \\c é')
    assert jaas_config(login).endswith('password="a \\"b\\" \\\\c é" user_app="a \\"b\\" \\\\c é";')
    # java.util.Properties: backslashes doubled, non-ASCII as \\uXXXX, a leading blank kept.
    assert properties_value('x\\"é😀') == 'x\\\\"\\u00e9\\ud83d\\ude00'
    assert properties_value(" lead\n") == "\\ lead\\n"


def test_sasl_without_a_login_or_with_an_odd_user_name_is_refused(tmp_path: Path) -> None:
    no_login = KafkaSecurity(protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512")
    with pytest.raises(SettingMissing, match="MOBIUS_KAFKA_SECURITY__SASL_USERNAME"):
        broker_login(no_login)
    odd = no_login.model_copy(update={"sasl_username": "a,b", "sasl_password": SecretStr("x")})
    with pytest.raises(SettingMissing, match="user name"):
        broker_login(odd)


def test_scram_users_are_formatted_from_a_salted_password_never_the_password() -> None:
    login = Sasl("SCRAM-SHA-512", "app", "pencil, with a comma")
    salt = b"0123456789abcdef"
    argument = scram_format_argument(login, salt)
    assert "pencil" not in argument
    fields = dict(
        part.split("=", 1) for part in argument.removeprefix("SCRAM-SHA-512=[").removesuffix("]").split(",")
    )
    assert fields["name"] == "app" and fields["iterations"] == "4096"
    assert base64.b64decode(fields["salt"]) == salt
    # RFC 5802 Hi(): PBKDF2 with the mechanism's HMAC and the hash's length.
    salted = hashlib.pbkdf2_hmac("sha512", b"pencil, with a comma", salt, 4096)
    assert base64.b64decode(fields["saltedpassword"]) == salted


def test_the_login_fingerprint_changes_with_the_scram_login_only() -> None:
    scram = Sasl("SCRAM-SHA-512", "app", "one")
    assert login_fingerprint(scram) != login_fingerprint(Sasl("SCRAM-SHA-512", "app", "two"))
    assert "one" not in login_fingerprint(scram)
    assert login_fingerprint(None) == login_fingerprint(Sasl("PLAIN", "app", "one")) == "none"


def test_the_server_certificate_names_its_host_and_loopback() -> None:
    assert subject_alt_names("127.0.0.1") == "DNS:localhost,IP:127.0.0.1,IP:::1"
    assert subject_alt_names("127.0.0.2") == "IP:127.0.0.2,DNS:localhost,IP:127.0.0.1,IP:::1"
    assert subject_alt_names("kafka.local").startswith("DNS:kafka.local,")


def test_tls_files_are_made_with_owner_only_keys_and_the_ca_is_kept(tmp_path: Path) -> None:
    first = issue_broker_tls(tmp_path, "127.0.0.1")
    assert first.ca_file == local_ca_file(tmp_path)
    ca = first.ca_file.read_text()
    assert first.keystore_file.stat().st_mode & 0o077 == 0
    assert (tmp_path / "tls" / "ca.key").stat().st_mode & 0o077 == 0
    keystore = first.keystore_file.read_text()
    assert keystore.count("BEGIN CERTIFICATE") == 2 and "BEGIN PRIVATE KEY" in keystore
    second = issue_broker_tls(tmp_path, "127.0.0.1")
    assert second.ca_file.read_text() == ca  # clients keep trusting the same CA
    context = ssl.create_default_context(cafile=str(first.ca_file))
    context.load_cert_chain(str(first.keystore_file))  # the certificate matches its key


def test_tls_without_openssl_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing, match="apt-get install -y openssl"):
        issue_broker_tls(tmp_path, "127.0.0.1", openssl="/nonexistent/openssl")


def test_storage_formatted_for_another_scram_login_is_refused_with_what_to_do(tmp_path: Path) -> None:
    cfg = _secured(tmp_path, "SCRAM-SHA-512")
    cfg.data_dir.mkdir(parents=True)
    (cfg.data_dir / "meta.properties").write_text("version=1\n")  # formatted earlier, without SCRAM
    with pytest.raises(ServiceFailedToStart, match=r"formatted for another SASL login.*mobius down"):
        KafkaBroker(cfg)._format_storage("java")
