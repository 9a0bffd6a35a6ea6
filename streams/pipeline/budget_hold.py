"""Holding a request's estimated cost against its spend caps before the provider is called."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from routing.budgets import Cap, CapExceeded, Reservation, caps_for
from routing.outcomes import LLMError
from routing.policy import RouteDecision
from routing.router_config import MobiusPolicy
from schemas.events import QueryEvent
from schemas.vocabulary import AlertKind
from streams.alerts import alert_record
from streams.outgoing import Outgoing
from streams.pipeline.ports import BudgetGuard, BudgetUnavailable, Completer

logger = logging.getLogger("mobius.pipeline")


@dataclass(frozen=True)
class BudgetHold:
    """The outcome of asking the caps: go ahead (with a reservation, or unmetered), or a refusal."""

    decision: RouteDecision
    reservation: Reservation | None = None
    refusal: LLMError | None = None
    alerts: tuple[Outgoing, ...] = ()


@dataclass(frozen=True)
class BudgetContext:
    """What holding a budget needs from the worker: the store, the policy, prices and where alerts go."""

    budgets: BudgetGuard
    policy: MobiusPolicy
    completer: Completer
    alerts_topic: str
    worker_id: str


async def hold_budget(
    ctx: BudgetContext, query: QueryEvent, decision: RouteDecision, now: datetime
) -> BudgetHold:
    """Reserve the call's estimated cost against every cap; near a cap, use the cheaper group."""
    settings = ctx.policy.budgets
    caps = caps_for(settings, query.tier, query.user_id, query.org_id, now)
    if not caps:
        return BudgetHold(decision)
    cheaper = _cheaper_group(ctx, query, decision)
    estimate = ctx.completer.estimate_nano
    try:
        held = await ctx.budgets.reserve(
            query.request_id,
            caps,
            estimate(decision.group, decision.prompt_tokens, decision.max_tokens),
            estimate(cheaper, decision.prompt_tokens, decision.max_tokens),
        )
    except BudgetUnavailable as exc:
        if settings.when_redis_unavailable == "fail_open":
            logger.warning("budgets unavailable, %s goes through unmetered: %s", query.request_id, exc)
            return BudgetHold(decision)
        message = "spend limits cannot be checked right now; try again shortly"
        return BudgetHold(decision, refusal=LLMError("budget_unavailable", message))
    if isinstance(held, CapExceeded):
        alerts = await _alerts(ctx, [(held.cap, "100", "budget_exceeded", held.message())])
        return BudgetHold(decision, refusal=LLMError("budget_exceeded", held.message()), alerts=alerts)
    share = f"{settings.near_cap_share:.0%}"
    crossed: list[tuple[Cap, str, AlertKind, str]] = [
        (cap, "near", "budget_near_cap", f"passed {share} of its {cap.period} cap")
        for cap in held.crossed(settings.near_cap_share)
    ]
    if held.downgraded and cheaper != decision.group:
        decision = replace(decision, group=cheaper, budget_downgraded=True)
    return BudgetHold(decision, reservation=held, alerts=await _alerts(ctx, crossed))


def _cheaper_group(ctx: BudgetContext, query: QueryEvent, decision: RouteDecision) -> str:
    """The group to move to near a cap, if this tier may use it and it can hold the prompt."""
    cheaper = ctx.policy.budgets.cheaper_group.get(decision.group, decision.group)
    allowed = cheaper in ctx.policy.tiers[query.tier].allowed_groups
    fits = decision.prompt_tokens + decision.max_tokens <= ctx.completer.group_windows.get(cheaper, 0)
    return cheaper if allowed and fits else decision.group


async def _alerts(ctx: BudgetContext, crossed: list[tuple[Cap, str, AlertKind, str]]) -> tuple[Outgoing, ...]:
    """One alert per cap and level per window (the store remembers which were sent)."""
    out = []
    for cap, level, kind, message in crossed:
        if await ctx.budgets.first_alert(cap, level):
            subject = f"{cap.scope}:{cap.subject}"
            out.append(
                alert_record(
                    ctx.alerts_topic,
                    kind,
                    subject,
                    f"{subject} {message}",
                    ctx.worker_id,
                    period=cap.period,
                    resets_at=cap.resets_at.isoformat(),
                )
            )
    return tuple(out)
