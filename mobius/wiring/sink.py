"""`mobius sink`: the sink process (migrations, the sink loop, the embedded query endpoint), wired here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

from aiohttp import web
from clickhouse_connect.driver.client import Client

from analytics.batch import IntentFile
from analytics.clickhouse import connect
from analytics.migrations import apply_migrations
from analytics.query import make_query_app
from analytics.sink import CompletionSink, SinkConfig
from analytics.writer import CompletionsWriter
from mobius.settings import MobiusSettings
from routing.price_map import token_prices
from routing.router_config import RouterConfig, load_router_config

logger = logging.getLogger("mobius.analytics")


async def serve_sink(
    settings: MobiusSettings, stop: asyncio.Event, config: SinkConfig | None = None
) -> CompletionSink:
    """Run until `stop` is set; the sink (for its counters)."""
    ch = settings.clickhouse
    client = await asyncio.to_thread(connect, ch.dsn, ch.password)
    applied = await asyncio.to_thread(apply_migrations, client, ch.ttl_days)
    await asyncio.to_thread(record_prices, client, load_router_config(settings.router_config))
    if applied:
        logger.warning("applied migrations: %s", ", ".join(applied))
    lock = threading.Lock()
    runner: web.AppRunner | None = None
    if ch.embedded:  # only this process can open the data path: answer for others
        runner = web.AppRunner(make_query_app(client, lock), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", ch.query_port).start()
    try:
        intent = IntentFile(settings.state_dir / "sink" / f"{settings.topics.completions}.pending.json")
        writer = CompletionsWriter(client)
        sink = CompletionSink(settings.kafka, settings.topics, writer, intent, config=config, db_lock=lock)
        await sink.run(stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        client.close()
    return sink


def record_prices(client: Client, config: RouterConfig) -> None:
    """Write each deployment's price per token, for what-if queries (model_prices)."""
    rows = [
        [d.model_name, str(d.litellm_params["model"]), *token_prices(d.litellm_params)]
        for d in config.model_list
    ]
    client.insert(
        "model_prices",
        rows,
        column_names=["model_group", "model", "input_usd_per_token", "output_usd_per_token"],
    )


def run_sink(settings: MobiusSettings) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        logger.warning("sink: %s -> ClickHouse", settings.topics.completions)
        await serve_sink(settings, stop)

    asyncio.run(main())
