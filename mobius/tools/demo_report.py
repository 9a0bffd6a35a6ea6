"""The demo's summary: routes, latency, cost against all-smart, and how right the routes were."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from mobius.tools.demo_workload import DemoQuery
from mobius.tools.stats import percentile
from routing.llm_gateway import deployment_price
from routing.router_config import RouterConfig
from schemas.events import CompletionRecord, ReplyEvent


@dataclass
class DemoRun:
    """What the demo sent and received, for its summary."""

    replies: list[tuple[DemoQuery, ReplyEvent, float]] = field(default_factory=list)
    records: dict[str, CompletionRecord] = field(default_factory=dict)
    dead_letters: int = 0
    published: int = 0


KIND_LABEL = {"simple": "simple", "complex": "complex", "code": "code", "long_document": "long_context"}


def summarize(run: DemoRun, config: RouterConfig) -> dict[str, Any]:
    smart = [deployment_price(d.litellm_params) for d in config.model_list if d.model_name == "smart"]
    ok = [(q, r, ms) for q, r, ms in run.replies if r.status == "ok"]
    latencies = sorted(ms for _, _, ms in run.replies)
    cost = sum(r.cost_nano_usd for _, r, _ in ok)
    all_smart = Decimal(0)
    for _, reply, _ in ok:
        if reply.usage is not None:
            each = [p.cost_nano_usd(reply.usage.prompt_tokens, reply.usage.completion_tokens) for p in smart]
            all_smart += Decimal(sum(each)) / len(each)
    routes = Counter(
        (rec.query_type, rec.tier, rec.model_group, rec.model or f"({rec.error_code})")
        for rec in run.records.values()
    )
    classified = [
        (query, run.records[reply.request_id])
        for query, reply, _ in run.replies
        if reply.request_id in run.records
    ]
    # Hard queries from paying tiers answered by fast, except where a spend cap moved them on purpose.
    hard_to_fast = sum(
        1
        for q, r, _ in ok
        if q.kind in ("complex", "code")
        and q.tier != "free"
        and r.model_group == "fast"
        and not r.budget_downgraded
    )
    return {
        "published": run.published,
        "answered_ok": len(ok),
        "errors": sum(1 for _, r, _ in run.replies if r.status == "error"),
        "dlq": run.dead_letters,
        "fallbacks": sum(1 for _, r, _ in run.replies if r.fallbacks > 0),
        "groups_used": sorted({r.model_group for _, r, _ in ok if r.model_group}),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "cost_usd": round(cost / 1e9, 6),
        "all_smart_cost_usd": round(float(all_smart) / 1e9, 6),
        "savings_pct": round(100 * (1 - cost / float(all_smart)), 1) if all_smart else 0.0,
        "cache_hits": sum(1 for _, r, _ in ok if r.cache_hit),
        "budget_downgrades": sum(1 for _, r, _ in ok if r.budget_downgraded),
        "budget_refusals": sum(1 for _, r, _ in run.replies if r.error_code == "budget_exceeded"),
        "classified_right_pct": round(
            100
            * sum(rec.query_type == KIND_LABEL[q.kind] for q, rec in classified)
            / max(len(classified), 1),
            1,
        ),
        "hard_answered_by_fast": hard_to_fast,
        "routes": [
            {"query_type": qt, "tier": tier, "group": group, "model": model, "count": n}
            for (qt, tier, group, model), n in sorted(routes.items())
        ],
    }


def print_summary(summary: dict[str, Any], console: Console) -> None:
    routes = Table(title="routes taken (query type x tier -> group / model)")
    for column in ("query type", "tier", "group", "model", "queries"):
        routes.add_column(column)
    for route in summary["routes"]:
        routes.add_row(
            route["query_type"], route["tier"], route["group"], route["model"], str(route["count"])
        )
    console.print(routes)
    totals = Table(title="demo summary")
    totals.add_column("measure")
    totals.add_column("value", justify="right")
    for key in (
        "published",
        "answered_ok",
        "errors",
        "dlq",
        "fallbacks",
        "cache_hits",
        "budget_downgrades",
        "budget_refusals",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "analytics_rows",
    ):
        totals.add_row(key, str(summary[key]))
    totals.add_row("cost (USD)", f"{summary['cost_usd']:.6f}")
    totals.add_row("all-smart cost (USD)", f"{summary['all_smart_cost_usd']:.6f}")
    totals.add_row("saved against all-smart", f"{summary['savings_pct']}%")
    totals.add_row("queries classified as their kind", f"{summary['classified_right_pct']}%")
    totals.add_row("hard queries (paying tiers) answered by fast", str(summary["hard_answered_by_fast"]))
    totals.add_row("groups used", ", ".join(summary["groups_used"]))
    console.print(totals)
