"""aiokafka connection options: bootstrap servers and security, the same for every client."""

from __future__ import annotations

import ssl
from typing import Any

from streams.config import KafkaConfig


def client_options(kafka: KafkaConfig) -> dict[str, Any]:
    """Keyword arguments every aiokafka producer, consumer and admin client shares."""
    security = kafka.security
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": security.protocol,
    }
    if security.protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(security.ssl_cafile) if security.ssl_cafile else None
        )
    if security.protocol.startswith("SASL"):
        options["sasl_mechanism"] = security.sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = security.sasl_username
        options["sasl_plain_password"] = (
            security.sasl_password.get_secret_value() if security.sasl_password else None
        )
    return options
