#!/usr/bin/env bash
# One-time (and idempotent) setup of a fresh machine: Python dependencies from the lock file,
# Debian's redis-server, and a check for the Java and Maven that run the Kafka broker.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9

if ! python3 -m uv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "uv==${UV_VERSION}"
fi
# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (it is on these machines) every
# process would otherwise compile LiteLLM and the rest from source at each start (~2x the import time).
python3 -m uv sync --frozen --quiet --compile-bytecode

if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
        echo "setup: installing Debian's redis-server"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
        # Debian's package starts a system-wide server on 6379; the project runs its own.
        systemctl disable --now redis-server >/dev/null 2>&1 || service redis-server stop >/dev/null 2>&1 || true
    else
        echo "setup: redis-server is missing; install it as root with:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y redis-server" >&2
        exit 1
    fi
fi

# Debian's Prometheus: the metrics test scrapes the workers and the sink with a real server.
if ! command -v prometheus >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
        echo "setup: installing Debian's prometheus"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
    else
        echo "setup: prometheus is missing; install it as root with:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y prometheus" >&2
        exit 1
    fi
fi

for tool in java mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup: '$tool' is missing; install it as root with:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y openjdk-17-jre-headless maven" >&2
        exit 1
    fi
done
