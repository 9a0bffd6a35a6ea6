"""Counting fallbacks per model group in a sliding window, to raise an alert when they repeat."""

from __future__ import annotations

from collections import deque


class FallbackMonitor:
    """`record()` returns True when a group's fallbacks reach `threshold` within `window_s`.

    It fires once per burst: after alerting, the group's count starts again from zero.
    """

    def __init__(self, threshold: int = 5, window_s: float = 60.0) -> None:
        self.threshold = threshold
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}

    def record(self, group: str, now: float) -> bool:
        events = self._events.setdefault(group, deque())
        events.append(now)
        while events and now - events[0] > self.window_s:
            events.popleft()
        if len(events) >= self.threshold:
            events.clear()
            return True
        return False
