"""The Prometheus server's config: one job per kind of target."""

from pathlib import Path

import yaml

from infra.prometheus_server import PrometheusConfig, render_prometheus_yml


def test_the_config_scrapes_each_job_at_the_interval(tmp_path: Path) -> None:
    targets = {"worker": ["127.0.0.1:1", "127.0.0.1:2"], "sink": ["127.0.0.1:3"]}
    cfg = PrometheusConfig(9090, tmp_path, targets)
    rendered = yaml.safe_load(render_prometheus_yml(cfg))
    assert rendered["global"]["scrape_interval"] == "1000ms"
    jobs = {c["job_name"]: c["static_configs"][0]["targets"] for c in rendered["scrape_configs"]}
    assert jobs == {"sink": ["127.0.0.1:3"], "worker": ["127.0.0.1:1", "127.0.0.1:2"]}
