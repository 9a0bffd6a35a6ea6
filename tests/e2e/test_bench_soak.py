"""`mobius bench --soak 0.5 --soak-rate 20 --json`: only the soak runs, at that rate, and RSS is
sampled from the worker and the sink."""

import json
from pathlib import Path

from mobius.settings import settings_env
from tests.support.cli import local_settings, processes_under, run_mobius

PROCESS_KEYS = [
    "rss_mb_start",
    "rss_mb_end",
    "rss_slope_mb_per_hour",
    "rss_slope_stderr_mb_per_hour",
    "rss_slope_ci95_mb_per_hour",
    "rss_steady_samples",
    "rss_slope_late_half_mb_per_hour",
]


def test_a_half_minute_soak_samples_both_processes(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "state")
    env = settings_env(settings)
    result = run_mobius(
        "bench",
        "--soak",
        "0.5",
        "--soak-rate",
        "20",
        "--soak-interval-s",
        "2",
        "--json",
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert "throughput_rps" not in report and "overhead_p50_ms" not in report  # the soak alone
    assert report["soak_seconds"] >= 30
    for name in ("worker", "sink"):
        samples = report["samples"][name]
        assert len(samples) >= 14, samples  # every 2 s for 30 s
        assert all(mb > 50 for _, mb in samples)
        times = [t for t, _ in samples]
        assert times == sorted(times) and times[-1] >= 28
        for key in PROCESS_KEYS:
            assert report[f"{name}_{key}"] is not None, key
        low, high = report[f"{name}_rss_slope_ci95_mb_per_hour"]
        assert low <= report[f"{name}_rss_slope_mb_per_hour"] <= high
    # 30 s at 20/s; the asks' timeout is 60 s, so on a busy machine a few may be late, not lost.
    assert report["soak_rate"] == 20
    assert report["answered"] + report["failed"] == 600
    assert report["answered"] >= 560 and report["streamed"] >= 50
    assert report["cache_hits"] > 0
    assert processes_under(tmp_path / "state") == []
