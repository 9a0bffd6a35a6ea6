"""`python -m infra.clickhouse_http --path DIR --port 8123`: chDB behind ClickHouse's HTTP interface."""

import argparse
import logging
from pathlib import Path

from aiohttp import web

from infra.clickhouse_http.server import make_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", type=Path, required=True, help="the chDB data path this process owns")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(make_app(args.path), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
