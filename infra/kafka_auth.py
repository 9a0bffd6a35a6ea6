"""How the local broker's client listener is secured: the same protocol, SASL mechanism and login
the clients are configured with (`streams.config.KafkaSecurity`), so the two always agree.

PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL are each served on the client listener; the KRaft
controller listener stays PLAINTEXT on loopback. PLAIN logins are declared in the listener's JAAS
configuration; SCRAM users are written into the cluster metadata when the storage is formatted
(`kafka-storage format --add-scram`, the KRaft way), from a salted password computed here, so the
password itself never appears on a command line.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from infra.errors import SettingMissing
from infra.kafka_tls import BrokerTls
from streams.config import KafkaSecurity
from streams.kafka_options import Sasl, sasl

SCRAM_ITERATIONS = 4096  # Kafka's own default for SCRAM-SHA-256/512
# The name is a JAAS option key for PLAIN (`user_<name>`) and split on "," and "=" by Kafka's
# `--add-scram` parser: these characters pass both unchanged.
USER_NAME = re.compile(r"[A-Za-z0-9._@+-]+")


def uses_tls(security: KafkaSecurity) -> bool:
    return security.protocol in ("SSL", "SASL_SSL")


def broker_login(security: KafkaSecurity) -> Sasl | None:
    """The SASL login the broker must accept (the clients'); None without SASL."""
    login = sasl(security)
    if login is None:
        return None
    if not login.username or not login.password:
        raise SettingMissing(
            f"Kafka security protocol {security.protocol} needs a login for the local broker: set "
            "MOBIUS_KAFKA_SECURITY__SASL_USERNAME and MOBIUS_KAFKA_SECURITY__SASL_PASSWORD."
        )
    if not USER_NAME.fullmatch(login.username):
        raise SettingMissing(
            f"The Kafka user name {login.username!r} may hold only letters, digits and . _ @ + -"
        )
    return login


def listener_properties(security: KafkaSecurity, tls: BrokerTls | None) -> dict[str, str]:
    """server.properties entries for a client listener named after its protocol (it also carries
    the broker's own inter-broker traffic: no unauthenticated listener is opened for it)."""
    name = security.protocol
    props = {
        "inter.broker.listener.name": name,
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{name}:{name}",
    }
    if uses_tls(security):
        if tls is None:
            raise ValueError("a TLS listener needs the broker's TLS files")
        props |= {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(tls.keystore_file),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls.ca_file),
        }
    if (login := broker_login(security)) is not None:
        mechanism = login.mechanism
        prefix = f"listener.name.{name.lower()}.{mechanism.lower()}"
        props |= {
            "sasl.enabled.mechanisms": mechanism,
            "sasl.mechanism.inter.broker.protocol": mechanism,
            f"{prefix}.sasl.jaas.config": jaas_config(login),
        }
    return props


def jaas_config(login: Sasl) -> str:
    """The listener's JAAS line: the broker's own login (for inter-broker connections) and, for
    PLAIN, the one user it accepts."""
    user, password = _jaas_quote(login.username), _jaas_quote(login.password)
    if login.mechanism == "PLAIN":
        module = "org.apache.kafka.common.security.plain.PlainLoginModule"
        accepted = f" user_{login.username}={password}"
    else:
        module = "org.apache.kafka.common.security.scram.ScramLoginModule"
        accepted = ""
    return f"{module} required username={user} password={password}{accepted};"


def scram_format_argument(login: Sasl, salt: bytes | None = None) -> str:
    """`--add-scram` for `kafka-storage format`: the user with a salt and salted password (RFC 5802
    Hi(), what Kafka would compute from the password), never the password itself."""
    digest = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[login.mechanism]
    salt = salt if salt is not None else secrets.token_bytes(32)
    salted = hashlib.pbkdf2_hmac(digest, login.password.encode(), salt, SCRAM_ITERATIONS)

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return (
        f"{login.mechanism}=[name={login.username},iterations={SCRAM_ITERATIONS},"
        f"salt={b64(salt)},saltedpassword={b64(salted)}]"
    )


def login_fingerprint(login: Sasl | None) -> str:
    """What the storage was formatted for: SCRAM users exist only from format time, so a broker
    asked to accept another login must be told (a hash, in an owner-only file, never the password)."""
    if login is None or not login.mechanism.startswith("SCRAM"):
        return "none"
    text = "\0".join((login.mechanism, login.username, login.password))
    return hashlib.sha256(text.encode()).hexdigest()


def _jaas_quote(value: str) -> str:
    # JAAS options are read with a StreamTokenizer: inside quotes, backslash escapes.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
