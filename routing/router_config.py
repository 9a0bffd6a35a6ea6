"""The routing config: LiteLLM's own proxy-config YAML plus a `mobius:` section for our policy.

`model_list`, `router_settings` and `litellm_settings` are kept as LiteLLM reads them (they are
handed to `litellm.Router` unchanged); only their shape and the group names they mention are
checked here, so a typo fails at start with the file and the reason, not at the first request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.vocabulary import QueryType, Tier


class RouterConfigError(Exception):
    """The routing config file is missing or invalid; the message names the file and the problem."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleCondition(_Frozen):
    """When a routing rule applies: query types and tiers (empty means any)."""

    query_type: tuple[QueryType, ...] = ()
    tier: tuple[Tier, ...] = ()


class RoutingRule(_Frozen):
    """One rule of `mobius.rules`: a condition and the group it routes to."""

    when: RuleCondition = Field(default_factory=RuleCondition)
    group: str


class TierLimits(_Frozen):
    """What one tier may use: groups, prompt and output tokens, cache lifetime."""

    allowed_groups: tuple[str, ...]
    max_prompt_tokens: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    cache_ttl_s: int = Field(default=0, ge=0)  # 0: answers for this tier are never cached


class ClassifierSettings(_Frozen):
    """How queries are classified: the trained model (default) or the keyword rules."""

    method: Literal["model", "rules"] = "model"
    model_path: Path | None = None  # the artifact; routing/model/query_model.npz by default
    # Probability thresholds overriding those chosen at training (complex, code, unsure, long_context).
    thresholds: dict[str, float] = Field(default_factory=dict)
    long_context_tokens: int = Field(default=12000, gt=0)
    complex_threshold: float = Field(default=0.35, ge=0, le=1)  # the rules' keyword score


class SpendLimits(_Frozen):
    """USD caps for one tier's users and organisations; None means no cap."""

    user_daily_usd: float | None = Field(default=None, ge=0)
    user_monthly_usd: float | None = Field(default=None, ge=0)
    org_daily_usd: float | None = Field(default=None, ge=0)
    org_monthly_usd: float | None = Field(default=None, ge=0)


class BudgetSettings(_Frozen):
    """Spend caps: limits per tier, the near-cap share and cheaper groups, Redis-down policy."""

    near_cap_share: float = Field(default=0.8, gt=0, le=1)
    # Near the cap a request moves to this cheaper group (a group missing here keeps its group).
    cheaper_group: dict[str, str] = Field(default_factory=dict)
    # Redis unreachable: refuse paid calls (closed) or let them through unmetered (open).
    when_redis_unavailable: Literal["fail_closed", "fail_open"] = "fail_closed"
    limits: dict[Tier, SpendLimits] = Field(default_factory=dict)


class BackpressureSettings(_Frozen):
    """What a worker does when a group has no capacity (every deployment rate-limited or cooling
    down): hold the query and try again, instead of answering with an error."""

    # A query without a deadline of its own is held at most this long, then answered rate_limited.
    max_hold_s: float = Field(default=120.0, ge=0)
    # The longest single wait before trying again, whatever retry-after says.
    max_wait_s: float = Field(default=10.0, gt=0)
    # Share of a worker's in-flight slots one group may use for provider calls at once, so a slow
    # or saturated group cannot take every slot; 1: no bound.
    group_share: float = Field(default=0.75, gt=0, le=1)


class MobiusPolicy(_Frozen):
    """The `mobius:` section of a router config: classifier, rules, budgets, tiers, backpressure."""

    default_group: str
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    backpressure: BackpressureSettings = Field(default_factory=BackpressureSettings)
    rules: tuple[RoutingRule, ...] = ()
    tiers: dict[Tier, TierLimits]
    # Plain chat attempts go to the provider without litellm.acompletion's wrapper
    # (routing/direct_calls.py); false sends every attempt through LiteLLM's full call.
    direct_provider_calls: bool = True


class Deployment(BaseModel):
    """One `model_list` entry; unknown LiteLLM keys pass through untouched."""

    model_config = ConfigDict(frozen=True, extra="allow")

    model_name: str
    litellm_params: dict[str, Any]

    @model_validator(mode="after")
    def _names_a_model(self) -> Deployment:
        if not self.litellm_params.get("model"):
            raise ValueError(f"deployment of group {self.model_name!r} has no litellm_params.model")
        return self


class RouterConfig(_Frozen):
    """A LiteLLM proxy config (model_list, router_settings, litellm_settings) plus our policy."""

    model_list: tuple[Deployment, ...] = Field(min_length=1)
    router_settings: dict[str, Any] = Field(default_factory=dict)
    litellm_settings: dict[str, Any] = Field(default_factory=dict)
    mobius: MobiusPolicy

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(d.model_name for d in self.model_list)

    def fallback_reach(self, group: str) -> frozenset[str]:
        """The groups a call to `group` can end up in through `fallbacks` and
        `content_policy_fallbacks`, itself included (context-window fallbacks are left out: they
        are where a prompt goes because it is too long)."""
        edges: dict[str, set[str]] = {}
        for key in ("fallbacks", "content_policy_fallbacks"):
            for entry in self.router_settings.get(key) or []:
                for source, targets in entry.items():
                    edges.setdefault(source, set()).update(targets)
        reached, todo = {group}, [group]
        while todo:
            for target in edges.get(todo.pop(), ()):
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
        return frozenset(reached)

    @model_validator(mode="after")
    def _groups_exist(self) -> RouterConfig:
        groups = self.groups
        named = {self.mobius.default_group, *(rule.group for rule in self.mobius.rules)}
        for limits in self.mobius.tiers.values():
            named.update(limits.allowed_groups)
        for source, target in self.mobius.budgets.cheaper_group.items():
            named.update([source, target])
        for key in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
            for entry in self.router_settings.get(key) or []:
                for source, targets in entry.items():
                    named.update([source, *targets])
        unknown = sorted(named - groups)
        if unknown:
            raise ValueError(f"groups {unknown} are named but have no deployment in model_list")
        return self


def load_router_config(path: Path) -> RouterConfig:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RouterConfigError(f"router config {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise RouterConfigError(f"router config {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RouterConfigError(f"router config {path} must be a mapping with model_list and mobius")
    try:
        return RouterConfig.model_validate(raw)
    except ValidationError as exc:
        raise RouterConfigError(f"router config {path} is invalid:\n{exc}") from exc


@dataclass(frozen=True)
class RedisParams:
    """Where LiteLLM's Router keeps rpm/tpm counters and cooldowns, shared by every worker."""

    host: str
    port: int
    password: str | None = None
    username: str | None = None  # an ACL user; None: Redis's default user
