"""Why Kafka refused a connection, in words a person can act on.

aiokafka reports every failed bootstrap as `KafkaConnectionError("Unable to bootstrap from ...")`
and logs the cause; our entry points silence its logger. When a client cannot start, one more
connection is opened the same way and each step is checked (TCP, TLS and its certificate, the
Kafka handshake, the SASL login, a metadata request), so the error names the step that failed:
wrong credentials, an untrusted certificate or a protocol the listener does not speak.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.conn import AIOKafkaConnection
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from streams.config import KafkaConfig
from streams.kafka_options import KafkaAccessError, client_options, sasl_mechanism

PROTOCOL_SETTING = "MOBIUS_KAFKA_SECURITY__PROTOCOL"


async def start_client(kafka: KafkaConfig, start: Callable[[], Awaitable[object]]) -> None:
    """Await an aiokafka client's `start`; a refused connection becomes a KafkaAccessError saying why."""
    try:
        await start()
    except KafkaConnectionError as exc:
        reason = await refusal_reason(kafka)
        if reason is None:  # it answers now: the first failure was passing
            raise
        raise KafkaAccessError(reason) from exc


async def check_access(kafka: KafkaConfig, timeout_s: float = 10.0) -> None:
    """Raise KafkaAccessError unless a bootstrap server accepts this configuration."""
    reason = await refusal_reason(kafka, timeout_s)
    if reason is not None:
        raise KafkaAccessError(reason)


async def wait_for_access(
    kafka: KafkaConfig, on_wait: Callable[[str], None], timeout_s: float = 10.0
) -> None:
    """Return once a bootstrap server accepts this configuration. While none listens (a broker
    restarting, or started after us) keep trying, telling `on_wait` once; a refusal that no
    retry can cure (credentials, TLS trust, protocol) raises KafkaAccessError at once."""
    told = False
    while (refused := await _refusals(kafka, timeout_s)) is not None:
        reason, unreachable = refused
        if not unreachable:
            raise KafkaAccessError(reason)
        if not told:
            on_wait(reason)
            told = True
        await asyncio.sleep(1.0)


async def refusal_reason(kafka: KafkaConfig, timeout_s: float = 10.0) -> str | None:
    """Why no bootstrap server accepts this configuration; None when one does."""
    refused = await _refusals(kafka, timeout_s)
    return None if refused is None else refused[0]


async def _refusals(kafka: KafkaConfig, timeout_s: float) -> tuple[str, bool] | None:
    """None when a bootstrap server accepts; else the reasons, and whether every server was
    merely unreachable (nothing listening) rather than refusing."""
    reasons, unreachable = [], True
    for host, port in kafka.endpoints:
        try:
            await _metadata(host, port, kafka, timeout_s)
        except (KafkaError, OSError, asyncio.IncompleteReadError) as exc:
            reasons.append(_explain(exc, f"{host}:{port}", kafka, timeout_s))
            unreachable = unreachable and isinstance(exc, ConnectionRefusedError)
            continue
        return None
    return "; ".join(reasons), unreachable


async def broker_count(kafka: KafkaConfig, timeout_s: float = 5.0) -> int:
    """How many brokers the first bootstrap server reports (its metadata answer); raises when
    it cannot be asked, as `refusal_reason` explains."""
    host, port = kafka.endpoints[0]
    return len((await _metadata(host, port, kafka, timeout_s)).brokers)


async def _metadata(host: str, port: int, kafka: KafkaConfig, timeout_s: float) -> Any:
    """One connection made as the clients make theirs (TLS, SASL), one metadata request."""
    options = client_options(kafka)
    del options["bootstrap_servers"]
    conn = AIOKafkaConnection(host, port, request_timeout_ms=int(timeout_s * 1000), **options)
    opened = True
    try:
        async with asyncio.timeout(timeout_s):
            await conn.connect()
            # A SASL listener answers the version handshake to anyone, but this only after a login.
            return await conn.send(MetadataRequest([]))
    except ConnectionRefusedError:
        opened = False
        raise
    finally:
        # A TLS close takes a round trip: wait for it, or a loop ending now leaves the socket open.
        closed = conn.close()
        if opened and closed is not None:
            await asyncio.wait([closed], timeout=0.5)


def _explain(exc: Exception, address: str, kafka: KafkaConfig, timeout_s: float) -> str:
    """One sentence for the step that failed, naming the setting to look at."""
    security = kafka.security
    where, protocol = f"Kafka at {address}", security.protocol
    other_protocol = (
        f"the listener probably expects another security protocol than {protocol} ({PROTOCOL_SETTING})"
    )
    if isinstance(exc, SaslAuthenticationFailed):
        mechanism = sasl_mechanism(security)
        reason = (
            f"{where} refused the login of user {security.sasl_username!r} ({mechanism}): "
            f"authentication failed ({_detail(exc)}). Check MOBIUS_KAFKA_SECURITY__SASL_USERNAME "
            "and MOBIUS_KAFKA_SECURITY__SASL_PASSWORD."
        )
    elif isinstance(exc, UnsupportedSaslMechanismError):
        reason = f"{where} does not accept this SASL mechanism: {exc} (MOBIUS_KAFKA_SECURITY__SASL_MECHANISM)"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        reason = (
            f"{where} presented a TLS certificate this client does not trust ({exc.verify_message}); "
            "set MOBIUS_KAFKA_SECURITY__SSL_CAFILE to the CA that signed it."
        )
    elif isinstance(exc, ssl.SSLError):
        reason = f"the TLS handshake with {where} failed ({exc.reason}): {other_protocol}."
    elif isinstance(exc, ConnectionRefusedError):
        reason = f"nothing listens on {address} (is Kafka running? `mobius up` starts a local one)."
    elif isinstance(exc, TimeoutError):
        reason = f"{where} did not answer within {timeout_s:g} s over {protocol}: {other_protocol}."
    elif isinstance(exc, KafkaConnectionError | ConnectionError | asyncio.IncompleteReadError):
        reason = f"{where} closed the connection during the handshake: {other_protocol}."
    else:
        reason = f"{where} could not be reached over {protocol}: {exc}"
    return reason


def _detail(exc: KafkaError) -> str:
    """The broker's own words when it sent some."""
    return str(exc.args[0]) if exc.args and exc.args[0] else type(exc).__name__
