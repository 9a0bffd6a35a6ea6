"""A small run of `mobius bench --json`: the JSON is complete and sane (speed is reported, not asserted)."""

import json
from pathlib import Path

from streams.settings import settings_env
from tests.support import local_settings, processes_under, run_mobius


def test_bench_smoke(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "state")
    result = run_mobius(
        "bench",
        "--json",
        "--rows",
        "2000",
        "--rate",
        "200",
        "--seconds",
        "3",
        env=settings_env(settings),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ingest_rows_per_s"] > 0
    assert 0 <= report["freshness_p50_ms"] <= report["freshness_p95_ms"] < 60_000
    assert report["freshness_samples"] >= 500
    assert report["overhead_samples"] >= 55  # of 60 asks, open loop at 20/s for 3 s
    # Sane, not fast: ordered percentiles within the asks' 60 s timeout (speed is reported, not asserted).
    assert -50 < report["overhead_p50_ms"] <= report["overhead_p95_ms"] <= report["overhead_p99_ms"] < 60_000
    assert report["throughput_rps"] > 0
    assert report["worker_rss_mb_start"] > 50 and report["worker_rss_mb_end"] > 50
    assert processes_under(tmp_path / "state") == []
