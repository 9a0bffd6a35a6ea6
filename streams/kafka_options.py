"""Kafka connection security, built once: aiokafka's keyword arguments here and Faust's
credentials (streams/app.py) come from the same pieces, the TLS context and the SASL login."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from streams.config import KafkaConfig, KafkaSecurity


@dataclass(frozen=True)
class Sasl:
    """A SASL login (the password is the secret's value: never log this object)."""

    mechanism: str
    username: str
    password: str


def tls_context(security: KafkaSecurity) -> ssl.SSLContext | None:
    """The TLS context when the protocol uses TLS (verifying against `ssl_cafile` if given)."""
    if security.protocol not in ("SSL", "SASL_SSL"):
        return None
    return ssl.create_default_context(cafile=str(security.ssl_cafile) if security.ssl_cafile else None)


def sasl(security: KafkaSecurity) -> Sasl | None:
    """The SASL login when the protocol uses SASL."""
    if not security.protocol.startswith("SASL"):
        return None
    password = security.sasl_password.get_secret_value() if security.sasl_password else ""
    return Sasl(security.sasl_mechanism or "PLAIN", security.sasl_username or "", password)


def client_options(kafka: KafkaConfig) -> dict[str, Any]:
    """Keyword arguments every aiokafka producer, consumer and admin client shares."""
    security = kafka.security
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": security.protocol,
    }
    if (context := tls_context(security)) is not None:
        options["ssl_context"] = context
    if (login := sasl(security)) is not None:
        options |= {
            "sasl_mechanism": login.mechanism,
            "sasl_plain_username": login.username,
            "sasl_plain_password": login.password,
        }
    return options
