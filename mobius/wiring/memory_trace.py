"""Where a process's memory goes over time: tracemalloc snapshots diffed against the first one.

Off unless `MOBIUS_MEMORY_TRACE_S` is set (tracemalloc slows allocation down, so only for a
soak's investigation). A daemon thread takes the baseline snapshot after one interval (past
start-up), then every interval writes the allocation sites that grew most since then to
`memory/<worker id>.txt` (or `memory/sink.txt`) in its state directory, rewritten each time, and
ends it with the traced total at every report so far: whether the Python heap grows at all (a
process whose RSS grows under a flat line is growing in native memory, which tracemalloc cannot see).
"""

from __future__ import annotations

import linecache
import threading
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

FRAMES = 12
TOP = 25


def start_memory_trace(interval_s: float, output: Path) -> None:
    """Trace allocations and report growth to `output` every `interval_s` (0: do nothing)."""
    if interval_s <= 0:
        return
    tracemalloc.start(FRAMES)
    output.parent.mkdir(parents=True, exist_ok=True)
    reporter = threading.Thread(target=_report_forever, args=(interval_s, output), daemon=True)
    reporter.start()


def _report_forever(interval_s: float, output: Path) -> None:
    time.sleep(interval_s)
    baseline = _snapshot()
    started = time.monotonic()
    history: list[tuple[float, float]] = []
    while True:
        time.sleep(interval_s)
        seconds = time.monotonic() - started
        history.append((seconds, tracemalloc.get_traced_memory()[0] / 2**20))
        output.write_text(growth_report(baseline, _snapshot(), seconds, history))


def _snapshot() -> tracemalloc.Snapshot:
    # The tracer's own bookkeeping, and the source lines the report itself caches, are not the
    # process's growth.
    ours = [tracemalloc.Filter(False, path) for path in (tracemalloc.__file__, linecache.__file__) if path]
    return tracemalloc.take_snapshot().filter_traces(ours)


def growth_report(
    baseline: tracemalloc.Snapshot,
    now: tracemalloc.Snapshot,
    seconds: float,
    history: Sequence[tuple[float, float]] = (),
) -> str:
    """The `TOP` tracebacks whose live memory grew most between two snapshots, then the traced
    total in MB at each (seconds, MB) of `history`."""
    stats = now.compare_to(baseline, "traceback")
    current, peak = tracemalloc.get_traced_memory()
    lines = [f"after {seconds:.0f} s: traced {current / 2**20:.1f} MB (peak {peak / 2**20:.1f} MB)"]
    for stat in stats[:TOP]:
        lines.append(f"\n{stat.size_diff / 2**10:+.1f} KiB in {stat.count_diff:+d} blocks")
        lines += [f"  {frame}" for frame in stat.traceback.format()]
    if history:
        totals = ", ".join(f"{at:.0f} s: {mb:.2f} MB" for at, mb in history)
        lines.append(f"\ntraced over time: {totals}")
    return "\n".join(lines) + "\n"
