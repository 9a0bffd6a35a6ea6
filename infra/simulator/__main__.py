"""`python -m infra.simulator --port 8790`: serve the simulated providers on loopback."""

import argparse
import logging

from aiohttp import web

from infra.simulator.behaviour import Controls
from infra.simulator.server import make_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--latency-scale", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    controls = Controls(latency_scale=args.latency_scale)
    web.run_app(make_app(controls), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
