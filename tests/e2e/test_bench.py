"""A small run of `mobius bench --json`: the JSON is complete and sane (speed is reported, not asserted)."""

import json
from pathlib import Path

from mobius.settings import settings_env
from mobius.tools.bench_concurrency import RATES
from tests.support.cli import local_settings, processes_under, run_mobius

KEYS = [
    "overhead_p50_ms",
    "overhead_p95_ms",
    "overhead_p99_ms",
    "litellm_proxy_overhead_p50_ms",
    "litellm_proxy_overhead_p99_ms",
    "throughput_rps",
    "bare_router_rps",
    "throughput_ratio",
    "throughput_rps_2_workers",
    "max_rps_at_1s_latency",
    "freshness_p50_ms",
    "freshness_p95_ms",
    "ingest_rows_per_s",
    "worker_rss_mb_start",
    "worker_rss_mb_end",
    "classify_p50_us",
    "classify_p99_us",
    "classify_5mb_document_p99_us",
    "lanes_capacity_rps",
    "enterprise_p99_unloaded_ms",
    "enterprise_p99_overload_ms",
    "enterprise_p99_overload_ratio",
    "free_p99_overload_ms",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "simulator_ttft_p50_ms",
    "simulator_ttft_p99_ms",
    "worker_cpu_ms_per_stream",
    "overhead_p50_ms_20rps",
    "overhead_p99_ms_20rps",
    "litellm_proxy_overhead_p50_ms_20rps",
    "kafka_hop_p50_ms",
    "kafka_hop_p99_ms",
    "kafka_hop_to_worker_p50_ms",
    "kafka_hop_back_p50_ms",
    "kafka_floor_p50_ms",
    "kafka_floor_p99_ms",
]


def _ordered_overheads(report: dict[str, float], prefix: str) -> None:
    # Within the asks' 60 s timeout; a few ms below zero is the simulator's timer resolution.
    p50, p95, p99 = (report[f"{prefix}_p{p}_ms"] for p in (50, 95, 99))
    assert -50 < p50 <= p95 <= p99 < 60_000


def test_bench_smoke(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "state")
    result = run_mobius(
        "bench",
        "--json",
        "--rows",
        "2000",
        "--rate",
        "20",
        "--seconds",
        "3",
        env=settings_env(settings),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(isinstance(report[key], int | float) for key in KEYS), sorted(set(KEYS) - set(report))
    # The pipeline's first token cannot come before the simulator sent it.
    assert report["ttft_p50_ms"] >= report["simulator_ttft_p50_ms"] > 0

    assert report["overhead_samples"] >= 55  # of 60 asks, open loop at 20/s for 3 s
    assert report["litellm_proxy_overhead_samples"] >= 55  # the same load through LiteLLM's proxy
    _ordered_overheads(report, "overhead")
    _ordered_overheads(report, "litellm_proxy_overhead")
    assert report["overhead_samples_20rps"] >= 55 and report["litellm_proxy_overhead_samples_20rps"] >= 55
    # A hop through the pipeline cannot beat one bare record through the same broker by much
    # (its samples are whole milliseconds); both are within a second on loopback.
    assert 0 < report["kafka_floor_p50_ms"] <= report["kafka_floor_p99_ms"] < 1000
    assert 0 <= report["kafka_hop_p50_ms"] <= report["kafka_hop_p99_ms"] < 1000
    assert report["worker_cpu_ms_per_stream"] > 0

    assert report["throughput_rps"] > 0 and report["bare_router_rps"] > 0
    ratio = report["throughput_rps"] / report["bare_router_rps"]  # of the rounded rates: near, not equal
    assert abs(report["throughput_ratio"] - ratio) < 0.01
    assert report["throughput_rps_2_workers"] > 0
    assert report["max_rps_at_1s_latency"] in (0, *RATES)
    assert report["worker_cpu_ms_per_request"] > 0

    assert report["ingest_rows_per_s"] > 0
    assert 0 <= report["freshness_p50_ms"] <= report["freshness_p95_ms"] < 60_000
    assert report["freshness_samples"] >= 500
    assert report["worker_rss_mb_start"] > 50 and report["worker_rss_mb_end"] > 50
    assert 0 < report["classify_p50_us"] <= report["classify_p99_us"] and report["classify_samples"] >= 400
    assert report["classify_5mb_document_p99_us"] > 0
    # Overloaded twice over: everything is answered in the end, and free waits longest.
    assert report["lanes_capacity_rps"] > 0 and report["lanes_unanswered"] == 0
    assert report["enterprise_p99_overload_ratio"] > 0
    assert report["free_p99_overload_ms"] > report["enterprise_p99_overload_ms"]
    assert processes_under(tmp_path / "state") == []
