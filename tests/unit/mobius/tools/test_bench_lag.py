from mobius.tools.bench_concurrency import lag_floor_growth

STEP = 12.0


def _sawtooth(rate: float, capacity: float) -> list[tuple[float, int]]:
    """Lag sampled every 0.25 s: in flight (1 s of arrivals) plus what piled up since the last
    commit (each second), plus the backlog when arrivals outpace capacity."""
    samples = []
    for i in range(int(STEP * 4)):
        t = i / 4
        backlog = max(0.0, rate - capacity) * t
        samples.append((100.0 + t, int(rate * 1.0 + rate * (t % 1.0) + backlog)))
    return samples


def test_a_worker_that_keeps_up_shows_no_growth_despite_the_commit_sawtooth() -> None:
    assert lag_floor_growth(_sawtooth(rate=100, capacity=150), STEP) == 0


def test_a_worker_that_falls_behind_shows_the_backlog_it_adds() -> None:
    growth = lag_floor_growth(_sawtooth(rate=100, capacity=80), STEP)
    assert growth > 0.1 * 100 * STEP / 3  # the bench's threshold
    assert growth == (100 - 80) * STEP / 3
