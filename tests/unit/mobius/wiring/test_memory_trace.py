import tracemalloc

from mobius.wiring.memory_trace import growth_report


def _grow() -> list[bytes]:
    return [bytes(1024) for _ in range(2000)]


def test_the_report_names_the_site_that_grew() -> None:
    tracemalloc.start(5)
    try:
        baseline = tracemalloc.take_snapshot()
        kept = _grow()
        report = growth_report(baseline, tracemalloc.take_snapshot(), seconds=60)
    finally:
        tracemalloc.stop()
    assert len(kept) == 2000
    assert report.startswith("after 60 s: traced ")
    first_entry = report.split("\n\n")[1]
    assert "_grow" in first_entry or "test_memory_trace.py" in first_entry
    size_kib = float(first_entry.split(" KiB")[0])
    assert size_kib > 2000  # 2,000 blocks of 1 KiB and then some


def test_the_report_ends_with_the_traced_total_over_time() -> None:
    tracemalloc.start(1)
    try:
        snapshot = tracemalloc.take_snapshot()
        report = growth_report(snapshot, snapshot, seconds=120, history=[(60.0, 41.234), (120.0, 41.9)])
    finally:
        tracemalloc.stop()
    assert report.rstrip().splitlines()[-1] == "traced over time: 60 s: 41.23 MB, 120 s: 41.90 MB"
