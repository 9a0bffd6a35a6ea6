"""`mobius worker`: one router worker process (a Faust worker running the route agent), wired here."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import faust
import mode.loop
from opentelemetry import trace

from mobius.settings import MobiusSettings
from mobius.stack import local_simulator
from mobius.wiring.memory_trace import start_memory_trace
from mobius.wiring.tracing import tracer_provider
from mobius.workers import register_worker
from routing.attempts import AttemptLog
from routing.backpressure import group_slots
from routing.classifier import QueryClassifier, build_classifier
from routing.health import check_all, groups_down
from routing.llm_gateway import LLMGateway
from routing.router_config import RouterConfig, load_router_config
from routing.tokens import count_tokens
from streams.admission import step_aside
from streams.alerts import alert_record
from streams.app import create_app
from streams.kafka_access import wait_for_access
from streams.lag import report_lag
from streams.large_records import LargeRecordProducer
from streams.metrics import PrometheusMetrics, serve_metrics
from streams.pipeline.capacity import GroupCapacity
from streams.pipeline.route_pipeline import RoutePipeline
from streams.reply_topics import TopicDirectory
from streams.route_agent import register_route_agent
from streams.stores.budgets import RedisBudgetStore
from streams.stores.cache import RedisResponseCache
from streams.stores.connection import redis_client, router_redis
from streams.stores.replies import RedisReplyStore
from streams.topics import ensure_topics, list_topics

logger = logging.getLogger("mobius.worker")
LAG_INTERVAL_S = 2.0  # a Prometheus scrape interval is rarely shorter


def build_pipeline(
    settings: MobiusSettings,
    config: RouterConfig,
    gateway: LLMGateway,
    budgets: RedisBudgetStore,
    classifier: QueryClassifier,
) -> RoutePipeline:
    """The pipeline with its real adapters; call inside the worker's event loop."""
    redis = budgets.client
    return RoutePipeline(
        completer=gateway,
        classifier=classifier,
        policy=config.mobius,
        count_tokens=count_tokens,
        topics=settings.topics,
        worker_id=settings.worker_id,
        replies=RedisReplyStore(redis),
        budgets=budgets,
        cache=RedisResponseCache(redis),
        reply_topics=settings.reply_topics,
        capacity=GroupCapacity(
            group_slots(settings.worker_max_in_flight, config.mobius.backpressure),
            step_aside=step_aside,
            weights=settings.worker_lane_weights,
        ),
        metrics=PrometheusMetrics(),
        chunk_interval_s=settings.worker_stream_chunk_ms / 1000,
    )


def create_worker_app(settings: MobiusSettings) -> faust.App:
    config = load_router_config(settings.router_config)  # fail before joining the group
    classifier = build_classifier(config.mobius.classifier, settings.router_config.parent)
    app = create_app(settings.kafka, settings.worker)

    gateways: list[LLMGateway] = []
    stores: list[RedisBudgetStore] = []
    attempts = AttemptLog(allowed_fails=int(config.router_settings.get("allowed_fails", 3)))

    async def make_pipeline() -> RoutePipeline:
        # The pipeline's own topics are the worker's to create; a query's reply topic never is.
        await ensure_topics(settings.kafka, settings.topics.all())
        gateways.append(LLMGateway(config, attempts, redis=router_redis(settings.redis)))
        stores.append(RedisBudgetStore(redis_client(settings.redis), config.mobius.budgets.near_cap_share))
        return build_pipeline(settings, config, gateways[-1], stores[-1], classifier)

    large_records = LargeRecordProducer(settings.kafka)
    register_route_agent(
        app,
        settings.topics.queries,
        make_pipeline,
        settings.worker_max_in_flight,
        topics=TopicDirectory(lambda: list_topics(settings.kafka)),
        own_topics=frozenset(settings.topics.all()),
        lane_topics=settings.topics.lanes(),
        lane_weights=settings.worker_lane_weights,
        large=large_records,
        dead_letter_topics=frozenset({settings.topics.dlq}),
    )

    async def stop_large_records(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await large_records.stop()
        for gateway in gateways:  # the provider connections the direct attempts keep open
            await gateway.aclose()

    app.on_before_shutdown.connect(stop_large_records)

    alerts_topic = app.topic(settings.topics.alerts, key_type=bytes, value_type=bytes)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def publish_router_alerts() -> None:
        """LiteLLM's callbacks cannot await Kafka: their alerts are sent from here."""
        for kind, subject, message in attempts.drain_alerts():
            record = alert_record(settings.topics.alerts, kind, subject, message, settings.worker_id)
            await alerts_topic.send(key=record.key, value=record.value)

    @app.timer(interval=LAG_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def measure_consumer_lag() -> None:
        await report_lag(app.consumer)

    @app.timer(interval=10.0)  # type: ignore[untyped-decorator]
    async def refund_lapsed_reservations() -> None:
        """Reservations whose worker died and whose request never came back are refunded."""
        if stores and (refunded := await stores[-1].reap()):
            logger.warning("refunded %d budget reservations whose lease lapsed", refunded)

    if settings.health_interval_s > 0:

        @app.timer(interval=settings.health_interval_s)  # type: ignore[untyped-decorator]
        async def check_health() -> None:
            """The same one-token check as `mobius health`, logged where operators look."""
            if not gateways:
                return
            results = await check_all(gateways[-1].deployments())
            for r in results:
                if not r.healthy:
                    logger.warning("health: %s / %s is down: %s", r.group, r.model, r.error)
            for group in groups_down(results):
                logger.error("ALERT: health: every deployment of group %s is down", group)

    return app


class NoProviders(Exception):
    """Neither provider keys nor a local simulator: the worker could answer nothing."""


def use_local_simulator(settings: MobiusSettings) -> None:
    """Local mode (no provider key set): point LiteLLM's deployments at the simulator `mobius up`
    runs, through the variables the router config names (os.environ/OPENAI_API_BASE, ...)."""
    if settings.provider_mode == "providers":
        return
    simulator = local_simulator(settings)
    if simulator is None or not simulator.answers():
        raise NoProviders(
            "no provider keys are set (OPENAI_API_KEY, ANTHROPIC_API_KEY) and no local provider "
            f"simulator answers on 127.0.0.1:{settings.simulator_port}: run `mobius up` for local mode, "
            "or set the keys"
        )
    logger.warning("local mode: no provider keys set, answering through the simulator at %s", simulator.url)
    # LiteLLM resolves os.environ/ references when the Router is built: this is the one place
    # the process environment is written, and only with the simulator's own placeholders.
    os.environ.update(simulator.provider_env())


def run_worker(settings: MobiusSettings, loglevel: str = "WARNING") -> None:
    # uvloop: in alternating `mobius bench` runs it took 7.2-7.3 ms of worker CPU a request
    # against 7.7-8.9 ms on asyncio's loop, and two workers 213-220 req/s against 155-176.
    use_local_simulator(settings)
    # Faust retries a refused connection without saying why: wrong credentials, an untrusted
    # certificate or another protocol end the worker here instead, with the reason; a broker
    # not listening yet (restarting, or started after us) is waited for.
    asyncio.run(wait_for_access(settings.kafka, lambda why: logger.warning("waiting for Kafka: %s", why)))
    mode.loop.use("uvloop")
    app = create_worker_app(settings)
    register_worker(settings.state_dir)
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        # LiteLLM logs every failed attempt itself, and some of those calls carry arguments its
        # format string does not take ("--- Logging error ---" under Faust's handler). Our
        # AttemptLog records each failure, fallback and alert with the request id instead.
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logger.warning("worker %s consuming %s", settings.worker_id, ", ".join(settings.topics.inputs()))
    serve_metrics(settings.metrics_port, f"worker {settings.worker_id}")
    start_memory_trace(settings.memory_trace_s, settings.state_dir / "memory" / f"{settings.worker_id}.txt")
    if (provider := tracer_provider(settings.traces_exporter, settings.service_name)) is not None:
        trace.set_tracer_provider(provider)
        logger.warning("worker %s: exporting spans (%s)", settings.worker_id, settings.traces_exporter)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
