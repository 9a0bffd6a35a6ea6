"""The provisioned Grafana dashboard and Prometheus config (infra/observability) cannot run here (no
Docker engine): every metric the dashboard's PromQL uses must be one a worker or the sink
registers, every ClickHouse panel's SQL must run against the migrated schema (chDB), and the
compose file must mount what Grafana and Prometheus read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import analytics.metrics
import streams.lag
import streams.metrics
from analytics.clickhouse import connect
from analytics.migrations import apply_migrations

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "infra" / "observability"
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "mobius.json"
DATASOURCES = OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "datasources.yml"
_METRIC = re.compile(r"\bmobius_[a-z_]+\b")
# Series names each metric type exposes (prometheus_client's families drop `_total`).
_SERIES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
}
# The ClickHouse plugin's macros, replaced by what they expand to over the last hour.
_MACROS = (re.compile(r"\$__timeFilter\((\w+)\)"), r"\1 >= now() - INTERVAL 1 HOUR")


def _registered_series() -> set[str]:
    for module in (streams.metrics, analytics.metrics, streams.lag):  # registered at import
        assert module.__name__
    found = set()
    for family in REGISTRY.collect():
        found |= {family.name + suffix for suffix in _SERIES.get(family.type, ("",))}
    return found


def _panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = json.loads(DASHBOARD.read_text())["panels"]
    return panels


def _targets(kind: str) -> list[dict[str, Any]]:
    return [t for p in _panels() for t in p["targets"] if p["datasource"]["type"] == kind]


def test_every_panel_uses_a_provisioned_data_source() -> None:
    provisioned = {d["uid"]: d["type"] for d in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    assert set(provisioned.values()) == {"prometheus", "grafana-clickhouse-datasource"}
    for panel in _panels():
        for source in (panel["datasource"], *(t["datasource"] for t in panel["targets"])):
            assert provisioned.get(source["uid"]) == source["type"], panel["title"]


def test_every_metric_the_dashboard_queries_is_registered_by_a_worker_or_the_sink() -> None:
    used = {name for t in _targets("prometheus") for name in _METRIC.findall(t["expr"])}
    assert len(used) >= 10
    missing = used - _registered_series()
    assert not missing, f"the dashboard queries metrics nobody registers: {sorted(missing)}"


def test_the_dashboard_covers_what_operators_watch() -> None:
    used = " ".join(t["expr"] for t in _targets("prometheus"))
    for metric in (
        "mobius_requests_total",  # traffic
        "mobius_request_stage_seconds_bucket",  # latency percentiles
        "mobius_cost_usd_total",  # cost per minute by model
        "mobius_fallbacks_total",
        "mobius_consumer_lag",
        "mobius_cache_hits_total",
        "mobius_budget_downgrades_total",
    ):
        assert metric in used, metric
    assert _targets("grafana-clickhouse-datasource"), "cost panels from ClickHouse"


@pytest.mark.parametrize("target", _targets("grafana-clickhouse-datasource"), ids=lambda t: t["rawSql"][:40])
def test_clickhouse_panels_run_against_the_migrated_schema(target: dict[str, Any], tmp_path: Path) -> None:
    client = connect(f"chdb://{tmp_path / 'ch'}")
    apply_migrations(client, ttl_days=30)
    sql = _MACROS[0].sub(_MACROS[1], target["rawSql"])
    assert "$__" not in sql
    client.query(sql)  # an unknown table or column fails here


def test_compose_mounts_the_configs_and_installs_the_clickhouse_plugin() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "grafana-clickhouse-datasource" in services["grafana"]["environment"]["GF_INSTALL_PLUGINS"]
    mounted = {v.split(":")[0] for s in ("grafana", "prometheus") for v in services[s]["volumes"]}
    for path in ("./infra/observability/prometheus.yml", "./infra/observability/grafana/provisioning"):
        assert path in mounted and (ROOT / path).exists()
    scrape = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())["scrape_configs"]
    port = services["router"]["environment"]["MOBIUS_METRICS_PORT"]
    assert {job["job_name"] for job in scrape} == {"worker", "sink"}
    assert scrape[0]["dns_sd_configs"][0]["port"] == int(port)
    assert scrape[1]["static_configs"][0]["targets"] == [f"sink:{port}"]
