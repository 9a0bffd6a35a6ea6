from pathlib import Path

import pytest
import yaml

from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.router_config import RouterConfigError, load_router_config


def test_default_config_has_four_groups_each_on_two_providers() -> None:
    config = load_router_config(DEFAULT_ROUTER_CONFIG)
    assert config.groups == {"fast", "smart", "long-context", "code"}
    for group in config.groups:
        providers = {
            d.litellm_params["model"].split("/")[0] for d in config.model_list if d.model_name == group
        }
        assert len(providers) >= 2, group
    assert set(config.mobius.tiers) == {"free", "pro", "enterprise"}
    assert config.router_settings["context_window_fallbacks"]


def _write(tmp_path: Path, raw: object) -> Path:
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _default_raw() -> dict[str, object]:
    raw: dict[str, object] = yaml.safe_load(DEFAULT_ROUTER_CONFIG.read_text())
    return raw


def test_a_rule_naming_an_unknown_group_fails_at_load(tmp_path: Path) -> None:
    raw = _default_raw()
    raw["mobius"]["rules"].append({"when": {"tier": ["pro"]}, "group": "smrt"})  # type: ignore[index]
    with pytest.raises(RouterConfigError, match="smrt"):
        load_router_config(_write(tmp_path, raw))


def test_a_fallback_to_an_unknown_group_fails_at_load(tmp_path: Path) -> None:
    raw = _default_raw()
    raw["router_settings"]["fallbacks"].append({"fast": ["cheap"]})  # type: ignore[index]
    with pytest.raises(RouterConfigError, match="cheap"):
        load_router_config(_write(tmp_path, raw))


def test_a_deployment_without_a_model_fails_at_load(tmp_path: Path) -> None:
    raw = _default_raw()
    raw["model_list"].append({"model_name": "fast", "litellm_params": {"api_base": "x"}})  # type: ignore[union-attr]
    with pytest.raises(RouterConfigError, match=r"no litellm_params\.model"):
        load_router_config(_write(tmp_path, raw))


def test_missing_file_and_bad_yaml_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RouterConfigError, match="does not exist"):
        load_router_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list: [unclosed")
    with pytest.raises(RouterConfigError, match="not valid YAML"):
        load_router_config(bad)
