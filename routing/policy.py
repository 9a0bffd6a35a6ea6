"""Which model group answers: (classification, tier, hints) -> RouteDecision, by the config's rules.

Pure: the rules, tier limits and each group's context window are passed in; nothing is looked up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from routing.classifier import Classification
from routing.router_config import MobiusPolicy, RoutingRule
from schemas.vocabulary import QueryType, Tier


@dataclass(frozen=True)
class RouteDecision:
    """Where a query goes, with how many tokens, and why."""

    group: str
    query_type: QueryType
    complexity: float
    prompt_tokens: int
    max_tokens: int
    reason: str
    budget_downgraded: bool = False  # moved to a cheaper group near a spend cap


class RouteRejected(Exception):
    """The query cannot be routed; `code` goes in the error reply, `dead_letter` marks bad input."""

    def __init__(self, code: str, message: str, dead_letter: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.dead_letter = dead_letter


def decide_route(
    classification: Classification,
    tier: Tier,
    policy: MobiusPolicy,
    group_windows: Mapping[str, int],
    *,
    max_tokens_hint: int | None = None,
    group_override: str | None = None,
) -> RouteDecision:
    """Pick the group; raise RouteRejected when no group may or can take the prompt."""
    tokens = classification.prompt_tokens
    largest = max(group_windows.values())
    if tokens > largest:
        raise RouteRejected(
            "context_window_exceeded",
            f"the prompt has about {tokens} tokens; the largest context window is {largest}",
            dead_letter=True,
        )
    limits = policy.tiers[tier]
    if tokens > limits.max_prompt_tokens:
        raise RouteRejected(
            "prompt_too_long",
            f"the prompt has about {tokens} tokens; the {tier} tier allows {limits.max_prompt_tokens}",
        )
    max_tokens = min(max_tokens_hint or limits.max_output_tokens, limits.max_output_tokens)

    if group_override and tier == "enterprise":
        if group_override not in group_windows:
            raise RouteRejected("unknown_model_group", f"no model group named {group_override!r}")
        group, reason = group_override, "enterprise override"
    else:
        rule = _first_match(policy.rules, classification.query_type, tier)
        group = rule.group if rule else policy.default_group
        reason = f"rule {classification.query_type}/{tier}" if rule else "default group"
        if group not in limits.allowed_groups:
            allowed = policy.default_group if policy.default_group in limits.allowed_groups else None
            group = allowed or limits.allowed_groups[0]
            reason += f", not allowed for {tier}"

    if tokens + max_tokens > group_windows[group]:
        roomy = [g for g in limits.allowed_groups if tokens + max_tokens <= group_windows.get(g, 0)]
        if not roomy:
            raise RouteRejected(
                "prompt_too_long", f"no group allowed for the {tier} tier has room for {tokens} tokens"
            )
        group = min(roomy, key=lambda g: group_windows[g])
        reason += ", moved for context window"
    return RouteDecision(
        group, classification.query_type, classification.complexity, tokens, max_tokens, reason
    )


def _first_match(rules: tuple[RoutingRule, ...], query_type: QueryType, tier: Tier) -> RoutingRule | None:
    for rule in rules:
        if rule.when.query_type and query_type not in rule.when.query_type:
            continue
        if rule.when.tier and tier not in rule.when.tier:
            continue
        return rule
    return None
