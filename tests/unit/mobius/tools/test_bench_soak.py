import math

import pytest

from mobius.tools.bench_soak import after_warm_up, halves_mb, process_summary, rss_slope, soak_query


def test_a_line_growing_36_mb_an_hour_has_that_slope_and_no_error() -> None:
    samples = [(t, 400.0 + 0.01 * t) for t in range(0, 600, 10)]  # 0.01 MB/s = 36 MB/h
    slope = rss_slope(samples)
    assert slope.mb_per_hour == pytest.approx(36.0)
    assert slope.stderr_mb_per_hour == pytest.approx(0.0, abs=1e-3)
    assert slope.samples == 60


def test_flat_noise_gives_a_slope_whose_interval_holds_zero() -> None:
    wobble = [0.8, -0.5, 0.3, -0.9, 0.6, -0.2, 0.1, -0.4, 0.7, -0.5]
    samples = [(float(t * 10), 400.0 + wobble[t % 10]) for t in range(60)]
    slope = rss_slope(samples)
    assert slope.stderr_mb_per_hour is not None and slope.stderr_mb_per_hour > 0
    assert slope.ci95_mb_per_hour is not None
    low, high = slope.ci95_mb_per_hour
    assert low < 0 < high
    assert math.isclose(high - slope.mb_per_hour, slope.mb_per_hour - low, abs_tol=1e-2)


def test_the_standard_error_is_the_textbook_one() -> None:
    # y = 1, 3, 2 at x = 0, 1, 2 hours: slope 0.5, residuals -0.5, 1, -0.5 -> s^2 = 1.5, sxx = 2.
    slope = rss_slope([(0.0, 1.0), (3600.0, 3.0), (7200.0, 2.0)])
    assert slope.mb_per_hour == pytest.approx(0.5)
    assert slope.stderr_mb_per_hour == pytest.approx(math.sqrt(1.5 / 2), abs=1e-3)
    assert slope.ci95_mb_per_hour is not None  # t(0.975, 1 dof) = 12.706
    assert slope.ci95_mb_per_hour[1] == pytest.approx(0.5 + 12.706 * math.sqrt(0.75), abs=1e-2)


def test_too_few_samples_have_no_error_estimate() -> None:
    assert rss_slope([]).stderr_mb_per_hour is None
    two = rss_slope([(0.0, 100.0), (3600.0, 110.0)])
    assert two.mb_per_hour == pytest.approx(10.0) and two.stderr_mb_per_hour is None


def test_samples_at_one_instant_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct times"):
        rss_slope([(5.0, 100.0), (5.0, 101.0), (5.0, 102.0)])


def test_the_warm_up_cut_drops_the_first_share_of_the_run() -> None:
    samples = [(float(t), 1.0) for t in range(0, 100, 10)]
    assert [t for t, _ in after_warm_up(samples, run_s=100.0, share=0.2)] == [20, 30, 40, 50, 60, 70, 80, 90]
    assert after_warm_up(samples, run_s=100.0, share=0.0) == samples
    with pytest.raises(ValueError, match="warm-up share"):
        after_warm_up(samples, run_s=100.0, share=1.0)


def test_halves_are_the_mean_of_each_half() -> None:
    assert halves_mb([(0.0, 1.0), (1.0, 3.0), (2.0, 10.0), (3.0, 20.0)]) == (2.0, 15.0)
    assert halves_mb([(0.0, 1.0)]) == (0.0, 0.0)


def test_a_summary_ignores_the_growth_of_the_warm_up() -> None:
    warm = [(float(t), 300.0 + t) for t in range(0, 20, 2)]  # +1 MB/s while warming up
    steady = [(float(t), 320.0) for t in range(20, 100, 2)]
    summary = process_summary("worker", warm + steady, run_s=100.0)
    assert summary["worker_rss_mb_start"] == 300.0 and summary["worker_rss_mb_end"] == 320.0
    assert summary["worker_rss_slope_mb_per_hour"] == 0.0
    assert summary["worker_rss_steady_samples"] == 40


def test_a_climb_that_levels_off_has_a_flat_late_half() -> None:
    # +20 MB over the first half of the steady part, then flat: the whole slope is positive, the
    # late half's is zero.
    climb = [(float(t), 400.0 + 20.0 * min(t, 300) / 300) for t in range(0, 600, 10)]
    summary = process_summary(
        "sink",
        climb,
        run_s=600.0,
    )
    assert summary["sink_rss_slope_mb_per_hour"] > 50
    assert summary["sink_rss_slope_late_half_mb_per_hour"] == pytest.approx(0.0, abs=1e-6)
    low, high = summary["sink_rss_slope_late_half_ci95_mb_per_hour"]
    assert low <= 0 <= high


def test_the_mix_streams_repeats_and_asks_distinct_questions() -> None:
    queries = [soak_query(i) for i in range(100)]
    assert sum(q.streamed for q in queries) == 10
    repeats = [q for q in queries if q.tier == "pro"]
    assert len(repeats) == 20 and not any(q.streamed for q in repeats)
    assert len({q.messages[0]["content"] for q in repeats}) < len(repeats)  # they do repeat
    distinct = [q.messages[0]["content"] for q in queries if q.tier != "pro"]
    assert len(set(distinct)) == len(distinct) == 80
