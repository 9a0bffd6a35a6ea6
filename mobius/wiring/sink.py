"""`mobius sink`: the sink process (migrations, the sink loop, the embedded query endpoint), wired here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web
from clickhouse_connect.driver.client import Client

from analytics.batch import IntentFile
from analytics.clickhouse import connect, while_locked
from analytics.config import ClickHouseConfig
from analytics.group_sink import GroupSink
from analytics.migrations import apply_migrations
from analytics.query import open_analyst_session
from analytics.query_endpoint import ensure_token, make_query_app
from analytics.sink import CompletionSink, SinkConfig, SinkCore
from analytics.writer import CompletionsWriter
from mobius.settings import MobiusSettings
from mobius.wiring.memory_trace import start_memory_trace
from routing.price_map import token_prices
from routing.router_config import RouterConfig, load_router_config
from streams.metrics import serve_metrics

logger = logging.getLogger("mobius.analytics")


async def serve_sink(
    settings: MobiusSettings, stop: asyncio.Event, config: SinkConfig | None = None
) -> SinkCore:
    """Run until `stop` is set; the sink (for its counters).

    Embedded engine: this one sink reads every partition. Server: it joins the sinks' group."""
    ch = settings.clickhouse
    client = await asyncio.to_thread(_open_store, ch)
    applied = await asyncio.to_thread(apply_migrations, client, ch.ttl_days)
    await asyncio.to_thread(record_prices, client, load_router_config(settings.router_config))
    if applied:
        logger.warning("applied migrations: %s", ", ".join(applied))
    runner: web.AppRunner | None = None
    analyst: Client | None = None
    if ch.embedded:  # only this process can open the data path: answer for others
        analyst = await asyncio.to_thread(open_analyst_session, ch.dsn)
        token_file = ch.query_token_file or settings.state_dir / "sink" / "analyst-token"
        app = make_query_app(analyst, ensure_token(token_file), token_file)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", ch.query_port).start()
    try:
        sink = _make_sink(settings, CompletionsWriter(client), config)
        await sink.run(stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        if analyst is not None:
            analyst.close()
        client.close()
    return sink


def _make_sink(settings: MobiusSettings, writer: CompletionsWriter, config: SinkConfig | None) -> SinkCore:
    if config is None:
        config = SinkConfig(
            max_rows=settings.sink_max_rows,
            max_wait_s=settings.sink_max_wait_s,
            group_id=settings.sink_group,
            session_timeout_s=settings.sink_session_timeout_s,
        )
    if settings.clickhouse.embedded:
        intent = IntentFile(settings.state_dir / "sink" / f"{settings.topics.completions}.pending.json")
        return CompletionSink(settings.kafka, settings.topics, writer, intent, config=config)
    return GroupSink(settings.kafka, settings.topics, writer, config=config)


def _open_store(ch: ClickHouseConfig) -> Client:
    """The sink's writing session; an embedded path a `mobius sql` holds for a moment is waited for."""
    return while_locked(lambda: connect(ch.dsn, ch.password))


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
        serve_metrics(settings.metrics_port, "sink")
        start_memory_trace(settings.memory_trace_s, settings.state_dir / "memory" / "sink.txt")
        await serve_sink(settings, stop)

    asyncio.run(main())
