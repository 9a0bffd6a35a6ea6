"""Saved analyst queries (analytics/queries/*.sql) and their charts.

Each file starts with comment headers: `-- description: ...` (one line) and `-- plot: KIND x=COL
y=COL[,COL] [series=COL]` with KIND line, bar or barh. Queries take `{since:DateTime64(3, 'UTC')}`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: servers have no display
import matplotlib.pyplot as plt

from analytics.config import ClickHouseConfig
from analytics.query import QueryResult, run_sql

QUERIES_DIR = Path(__file__).resolve().parent / "queries"
_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class PlotSpec:
    """How a saved query is drawn: chart kind and columns."""

    kind: str
    x: str
    y: tuple[str, ...]
    series: str | None = None


@dataclass(frozen=True)
class SavedQuery:
    """One analyst query from analytics/queries/*.sql, with its description and plot."""

    name: str
    description: str
    plot: PlotSpec
    sql: str


def load_saved_queries(directory: Path = QUERIES_DIR) -> dict[str, SavedQuery]:
    queries = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text()
        headers = dict(re.findall(r"^--\s*(\w+):\s*(.+)$", text, re.MULTILINE))
        kind, *pairs = headers["plot"].split()
        options = dict(pair.split("=", 1) for pair in pairs)
        plot = PlotSpec(kind, options["x"], tuple(options["y"].split(",")), options.get("series"))
        queries[path.stem] = SavedQuery(path.stem, headers["description"].strip(), plot, text)
    return queries


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'30m', '1h', '7d' -> the UTC instant that long ago."""
    match = _SINCE.match(text.strip())
    if match is None:
        raise ValueError(f"--since must look like 30m, 1h or 7d, not {text!r}")
    delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    return (now or datetime.now(UTC)) - delta


def run_report(ch: ClickHouseConfig, query: SavedQuery, since: datetime) -> QueryResult:
    return run_sql(ch, query.sql, {"since": since})


def draw(query: SavedQuery, result: QueryResult, path: Path) -> None:
    """The report's natural chart, as a PNG."""
    spec = query.plot
    index = {name: i for i, name in enumerate(result.columns)}
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=100)
    if spec.series:
        lines: dict[str, tuple[list[object], list[float]]] = defaultdict(lambda: ([], []))
        for row in result.rows:
            xs, ys = lines[str(row[index[spec.series]])]
            xs.append(_as_x(row[index[spec.x]]))
            ys.append(float(row[index[spec.y[0]]] or 0))
        _series_chart(ax, spec, lines)
    else:
        labels = [str(row[index[spec.x]]) for row in result.rows]
        width = 0.8 / len(spec.y)
        for n, column in enumerate(spec.y):
            values = [float(row[index[column]] or 0) for row in result.rows]
            positions = [i + n * width for i in range(len(labels))]
            if spec.kind == "barh":
                ax.barh(positions, values, height=width, label=column)
            elif spec.kind == "line":
                ax.plot(labels, values, marker="o", label=column)
            else:
                ax.bar(positions, values, width=width, label=column)
        if spec.kind in ("bar", "barh"):
            ticks = [i + width * (len(spec.y) - 1) / 2 for i in range(len(labels))]
            (ax.set_yticks if spec.kind == "barh" else ax.set_xticks)(ticks, labels)
    ax.set_title(query.description)
    ax.set_xlabel(spec.y[0] if spec.kind == "barh" else spec.x)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    if spec.kind == "line":
        fig.autofmt_xdate()
    else:
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _as_x(value: object) -> object:
    """Times arrive as text through the sink's JSON endpoint; plot them as times."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _series_chart(ax: object, spec: PlotSpec, lines: dict[str, tuple[list[object], list[float]]]) -> None:
    xs_all = sorted({x for xs, _ in lines.values() for x in xs}, key=str)
    width = 0.8 / max(len(lines), 1)
    for n, (name, (raw_xs, raw_ys)) in enumerate(sorted(lines.items())):
        points = sorted(zip(raw_xs, raw_ys, strict=True), key=lambda p: str(p[0]))
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        if spec.kind == "line":
            ax.plot(xs, ys, marker="o", label=name)  # type: ignore[attr-defined]
        else:
            positions = [xs_all.index(x) + n * width for x in xs]
            ax.bar(positions, ys, width=width, label=name)  # type: ignore[attr-defined]
    if spec.kind != "line":
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(xs_all))], [str(x) for x in xs_all])  # type: ignore[attr-defined]
