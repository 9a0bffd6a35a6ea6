"""TLS material for the local Kafka broker: a CA of its own and a server certificate it signs.

Made with the `openssl` command line on first use, as PEM files Kafka reads directly
(`ssl.keystore.type=PEM`), so no Java keystore or keytool is involved. The CA lives as long as the
state directory (clients keep trusting it); the server certificate is issued afresh at every
broker start, for the host the broker listens on. Private keys are owner-only files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from infra.errors import ServiceFailedToStart, ToolMissing

CA_DAYS = 3650
SERVER_DAYS = 397
# P-256 keys: generated in milliseconds, read by Java's PEM loader and Python's ssl alike.
KEY_ALGORITHM = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")


def tls_dir(run_dir: Path) -> Path:
    """Where a broker whose files live in `run_dir` keeps its TLS material."""
    return run_dir / "tls"


def local_ca_file(run_dir: Path) -> Path:
    """The CA certificate clients of that broker verify it with (their `ssl_cafile`)."""
    return tls_dir(run_dir) / "ca.pem"


@dataclass(frozen=True)
class BrokerTls:
    """The files a TLS listener is configured with."""

    ca_file: Path
    # The server certificate, the CA's, then the private key: Kafka's PEM key store file.
    keystore_file: Path


def issue_broker_tls(run_dir: Path, host: str, openssl: str = "openssl") -> BrokerTls:
    """Make the CA once and a server certificate for `host` now; the files to configure."""
    found = require_openssl(openssl)
    directory = tls_dir(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca_cert, ca_key = local_ca_file(run_dir), directory / "ca.key"
    if not (ca_cert.exists() and ca_key.exists()):
        _openssl(
            found,
            "req", "-x509", *KEY_ALGORITHM, "-noenc",
            "-keyout", str(ca_key), "-out", str(ca_cert), "-days", str(CA_DAYS),
            "-subj", "/CN=Mobius local Kafka CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        ca_key.chmod(0o600)
    server_cert, server_key = directory / "server.crt", directory / "server.key"
    _openssl(
        found,
        "req", "-x509", *KEY_ALGORITHM, "-noenc",
        "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-keyout", str(server_key), "-out", str(server_cert), "-days", str(SERVER_DAYS),
        "-subj", f"/CN={host}",
        "-addext", f"subjectAltName={subject_alt_names(host)}",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature",
        "-addext", "extendedKeyUsage=serverAuth",
    )  # fmt: skip
    keystore = directory / "server-keystore.pem"
    fd = os.open(keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(server_cert.read_text() + ca_cert.read_text() + server_key.read_text())
    server_key.unlink()  # the key store holds it; one copy of a key is enough
    return BrokerTls(ca_file=ca_cert, keystore_file=keystore)


def require_openssl(command: str) -> str:
    found = shutil.which(command)
    if found is None:
        raise ToolMissing(
            f"'{command}' is needed to make the local Kafka broker's TLS certificates and was not "
            "found. Install it with: apt-get install -y openssl"
        )
    return found


def subject_alt_names(host: str) -> str:
    """The names a loopback broker's certificate is valid for: its host and loopback's usual names."""
    names = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    try:
        own = f"IP:{ip_address(host)}"
    except ValueError:
        own = f"DNS:{host}"
    if own not in names:
        names.insert(0, own)
    return ",".join(names)


def _openssl(openssl: str, *args: str) -> None:
    result = subprocess.run([openssl, *args], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ServiceFailedToStart(f"openssl could not make the Kafka TLS files:\n{result.stderr[-2000:]}")
