"""The statistics the demo and the benchmark report, defined once."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: int) -> float:
    """The pct-th percentile (1..99), inclusive method; 0 for no values."""
    if len(values) < 2:  # noqa: PLR2004 - quantiles needs two points
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
