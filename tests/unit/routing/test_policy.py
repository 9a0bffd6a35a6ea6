import pytest

from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.classifier import Classification
from routing.policy import RouteRejected, decide_route
from routing.router_config import load_router_config

POLICY = load_router_config(DEFAULT_ROUTER_CONFIG).mobius
WINDOWS = {"fast": 200_000, "smart": 200_000, "code": 1_047_576, "long-context": 1_047_576}


def _route(query_type: str, tier: str, tokens: int = 50, **kwargs: object) -> str:
    c = Classification(query_type, tokens, "model")  # type: ignore[arg-type]
    return decide_route(c, tier, POLICY, WINDOWS, **kwargs).group  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query_type", "tier", "group"),
    [
        ("simple", "free", "fast"),
        ("simple", "pro", "fast"),
        ("complex", "free", "fast"),
        ("complex", "pro", "smart"),
        ("complex", "enterprise", "smart"),
        ("code", "free", "fast"),
        ("code", "pro", "code"),
        ("long_context", "free", "long-context"),
        ("long_context", "pro", "long-context"),
    ],
)
def test_rules_from_the_config(query_type: str, tier: str, group: str) -> None:
    assert _route(query_type, tier) == group


def test_override_is_for_enterprise_only() -> None:
    assert _route("simple", "enterprise", group_override="smart") == "smart"
    assert _route("simple", "pro", group_override="smart") == "fast"
    with pytest.raises(RouteRejected, match="no model group named 'gpt-5'"):
        _route("simple", "enterprise", group_override="gpt-5")


def test_max_tokens_is_clamped_to_the_tier() -> None:
    c = Classification("simple", 10, "model")
    assert decide_route(c, "free", POLICY, WINDOWS, max_tokens_hint=10_000).max_tokens == 512
    assert decide_route(c, "free", POLICY, WINDOWS, max_tokens_hint=100).max_tokens == 100
    assert decide_route(c, "pro", POLICY, WINDOWS).max_tokens == 2048


def test_a_prompt_too_big_for_the_group_moves_to_a_roomier_allowed_group() -> None:
    assert _route("simple", "enterprise", tokens=300_000, group_override="fast") == "code"


def test_larger_than_every_window_is_a_dead_letter() -> None:
    with pytest.raises(RouteRejected) as caught:
        _route("long_context", "enterprise", tokens=2_000_000)
    assert caught.value.code == "context_window_exceeded" and caught.value.dead_letter


def test_over_the_tier_prompt_limit_is_an_error_not_a_dead_letter() -> None:
    with pytest.raises(RouteRejected) as caught:
        _route("long_context", "free", tokens=40_000)
    assert caught.value.code == "prompt_too_long" and not caught.value.dead_letter
