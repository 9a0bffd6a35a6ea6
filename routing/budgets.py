"""Spend caps per user and organisation, per UTC day and month (pure: no Redis here).

Money is integer nano-USD throughout. A request reserves its estimated cost against every cap
that applies before the provider is called, and settles to the exact cost afterwards; the
reservation and the check are one atomic step in Redis (streams/stores/budgets.py), so concurrent
requests on any number of workers never overshoot a cap by more than one request's estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from routing.router_config import BudgetSettings
from schemas.vocabulary import Tier

NANO_PER_USD = 10**9
Scope = Literal["user", "org"]
Period = Literal["day", "month"]


@dataclass(frozen=True)
class Cap:
    """One cap that applies to a request: whose, which window, its default limit (overrides live
    in the store) and when the window resets."""

    scope: Scope
    subject: str
    period: Period
    window: str  # "2026-11-29" for a day, "2026-11" for a month
    default_limit_nano: int
    resets_at: datetime
    ttl_s: int


def usd_to_nano(usd: float | Decimal | str) -> int:
    return int((Decimal(str(usd)) * NANO_PER_USD).to_integral_value())


def caps_for(
    settings: BudgetSettings, tier: Tier, user_id: str, org_id: str | None, now: datetime
) -> list[Cap]:
    """Every cap on this request, from the tier's defaults (overrides are read in Redis)."""
    limits = settings.limits.get(tier)
    if limits is None:
        return []
    wanted: list[tuple[Scope, str, Period, float | None]] = [
        ("user", user_id, "day", limits.user_daily_usd),
        ("user", user_id, "month", limits.user_monthly_usd),
    ]
    if org_id:
        wanted += [
            ("org", org_id, "day", limits.org_daily_usd),
            ("org", org_id, "month", limits.org_monthly_usd),
        ]
    return [
        _cap(scope, subject, period, usd_to_nano(usd), now)
        for scope, subject, period, usd in wanted
        if usd is not None
    ]


def _cap(scope: Scope, subject: str, period: Period, limit_nano: int, now: datetime) -> Cap:
    now = now.astimezone(UTC)
    if period == "day":
        window = now.strftime("%Y-%m-%d")
        resets = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    else:
        window = now.strftime("%Y-%m")
        resets = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    # Counters outlive their window by a day, so `mobius budget show` can still read yesterday.
    ttl = int((resets - now).total_seconds()) + 86400
    return Cap(
        scope=scope,
        subject=subject,
        period=period,
        window=window,
        default_limit_nano=limit_nano,
        resets_at=resets,
        ttl_s=ttl,
    )


@dataclass(frozen=True)
class Reservation:
    """What one request holds against its caps; settle it with the exact cost (0 when nothing
    was spent). A request delivered again re-uses its reservation (`reused`) instead of holding
    a second one, so a crash never charges twice."""

    request_id: str
    caps: tuple[Cap, ...]
    amount_nano: int
    downgraded: bool
    levels: tuple[tuple[int, int], ...] = ()  # per cap: (spent before this reservation, limit)
    reused: bool = False

    def crossed(self, share: float) -> list[Cap]:
        """The caps this reservation carried past `share` of their limit."""
        return [
            cap
            for cap, (before, limit) in zip(self.caps, self.levels, strict=False)
            if before < share * limit <= before + self.amount_nano
        ]


@dataclass(frozen=True)
class CapExceeded:
    """A request refused at a cap: which, what was spent, and the limit."""

    cap: Cap
    spent_nano: int
    limit_nano: int

    def message(self) -> str:
        who = f"{self.cap.scope} {self.cap.subject}"
        period = "daily" if self.cap.period == "day" else "monthly"
        return (
            f"{who} has spent ${self.spent_nano / NANO_PER_USD:.6f} of its {period} limit "
            f"${self.limit_nano / NANO_PER_USD:.6f}; it resets at {self.cap.resets_at.isoformat()}"
        )
