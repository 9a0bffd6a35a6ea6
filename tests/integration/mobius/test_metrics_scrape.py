"""A real Prometheus server scrapes a worker and the sink under load and answers PromQL over
their metrics (Debian's prometheus; setup installs it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from infra.ports import pick_free_port
from infra.prometheus_server import PrometheusConfig, PrometheusServer
from mobius.fleet import SinkProcess
from mobius.settings import MobiusSettings
from streams.client import MobiusClient
from tests.support.pipeline import running_pipeline, wait_until_serving


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout_s:g} s"
        time.sleep(0.5)


def test_prometheus_scrapes_the_worker_and_the_sink(stack_settings: MobiusSettings, tmp_path: Path) -> None:
    worker_port, sink_port = pick_free_port(), pick_free_port()
    with running_pipeline(stack_settings, metrics_port=worker_port) as pipeline:
        sink_settings = pipeline.settings.model_copy(
            update={
                "metrics_port": sink_port,
                "clickhouse_dsn": f"chdb://{tmp_path / 'clickhouse'}",
                "analytics_query_port": pick_free_port(),
                "state_dir": tmp_path / "sink-state",
            }
        )
        sink = SinkProcess(sink_settings)
        sink.start()
        prometheus = PrometheusServer(
            PrometheusConfig(
                pick_free_port(),
                tmp_path / "prometheus",
                {"worker": [f"127.0.0.1:{worker_port}"], "sink": [f"127.0.0.1:{sink_port}"]},
            )
        )
        prometheus.start()
        try:

            async def load() -> None:
                async with MobiusClient(pipeline.settings.kafka, pipeline.settings.topics) as client:
                    await wait_until_serving(client)
                    await asyncio.gather(
                        *(
                            client.ask(
                                [{"role": "user", "content": f"q {i}"}],
                                user_id=f"u{i}",
                                tier="pro",
                                timeout=60,
                            )
                            for i in range(20)
                        )
                    )

            asyncio.run(load())

            def answered() -> bool:
                found = prometheus.query('sum(mobius_requests_total{outcome="ok"})')
                return bool(found) and float(found[0]["value"][1]) >= 20

            _until(answered, "Prometheus saw the worker's 20 answers")
            _until(
                lambda: bool(prometheus.query("mobius_sink_rows_total > 0")), "Prometheus saw the sink's rows"
            )
            assert all(prometheus.targets_up().values()), prometheus.targets_up()

            def by_group() -> set[str]:
                rates = prometheus.query("sum by (group) (rate(mobius_requests_total[1m]))")
                return {row["metric"]["group"] for row in rates}

            _until(lambda: bool(by_group()), "a rate by group (two scrapes with the counter)")
            total = 'mobius_request_stage_seconds_bucket{stage="total"}'
            p99 = f"histogram_quantile(0.99, sum by (le) ({total}))"  # cumulative: no rate window to miss

            def stage_p99() -> bool:
                found = prometheus.query(p99)
                return bool(found) and float(found[0]["value"][1]) > 0

            _until(stage_p99, "a p99 from the stage histogram")

            def lagged_topics(job: str) -> set[str]:
                found = prometheus.query(f'mobius_consumer_lag{{job="{job}"}}')
                assert all(float(row["value"][1]) >= 0 for row in found)
                return {row["metric"]["topic"] for row in found}

            topics = pipeline.settings.topics
            _until(
                lambda: topics.lane("pro") in lagged_topics("worker"),
                "the worker's lag per partition of the lane it read",
            )
            _until(lambda: lagged_topics("sink") == {topics.completions}, "the sink's lag on completions")
            partitions = prometheus.query('count(mobius_consumer_lag{job="sink"})')
            assert float(partitions[0]["value"][1]) == pipeline.settings.kafka_partitions
        finally:
            prometheus.stop()
            assert sink.stop()
