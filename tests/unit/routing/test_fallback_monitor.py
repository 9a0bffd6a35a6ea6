from routing.fallback_monitor import FallbackMonitor


def test_alerts_once_when_a_group_falls_back_repeatedly_within_the_window() -> None:
    monitor = FallbackMonitor(threshold=3, window_s=60)
    assert [monitor.record("smart", t) for t in (0, 10, 20)] == [False, False, True]
    assert monitor.record("smart", 21) is False  # counting starts again after an alert
    assert monitor.record("fast", 22) is False  # groups are counted apart


def test_old_fallbacks_leave_the_window() -> None:
    monitor = FallbackMonitor(threshold=3, window_s=60)
    assert [monitor.record("smart", t) for t in (0, 50, 120, 130)] == [False, False, False, False]
