"""How well a classifier and policy route a labeled set, and what its routes cost (pure).

Cost: prompt tokens are counted per query; output tokens are assumed equal for every query
(`output_tokens`), since a label says nothing of the answer's length; each group is priced at the
mean of its deployments. The baselines send every query to `smart` and to `fast`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from routing.classifier import QueryClassifier
from routing.corpus import Example
from routing.policy import RouteRejected, decide_route
from routing.price_map import route_cost
from routing.router_config import MobiusPolicy
from schemas.vocabulary import QUERY_TYPES, QueryType, Tier

CAPABLE: tuple[QueryType, ...] = ("complex", "code")


@dataclass(frozen=True)
class Evaluation:
    """Confusion counts (true, predicted), the derived rates, and the cost of the routes."""

    confusion: Mapping[tuple[QueryType, QueryType], int]
    total: int
    cost_usd: Decimal
    all_smart_usd: Decimal
    all_fast_usd: Decimal
    hard_to_fast: int  # complex or code queries the policy sent to `fast`
    output_tokens: int
    tier: Tier

    def count(self, true: QueryType, predicted: QueryType | None = None) -> int:
        if predicted is None:
            return sum(n for (t, _), n in self.confusion.items() if t == true)
        return self.confusion.get((true, predicted), 0)

    @property
    def accuracy(self) -> float:
        return sum(self.count(t, t) for t in QUERY_TYPES) / self.total if self.total else 0.0

    def recall(self, label: QueryType) -> float:
        support = self.count(label)
        return self.count(label, label) / support if support else 0.0

    def precision(self, label: QueryType) -> float:
        predicted = sum(n for (_, p), n in self.confusion.items() if p == label)
        return self.count(label, label) / predicted if predicted else 0.0

    @property
    def simple_to_capable(self) -> float:
        support = self.count("simple")
        return sum(self.count("simple", c) for c in CAPABLE) / support if support else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "accuracy": round(self.accuracy, 4),
            "confusion": {t: {p: self.count(t, p) for p in QUERY_TYPES} for t in QUERY_TYPES},
            "per_class": {
                t: {
                    "precision": round(self.precision(t), 4),
                    "recall": round(self.recall(t), 4),
                    "support": self.count(t),
                }
                for t in QUERY_TYPES
            },
            "simple_to_capable": round(self.simple_to_capable, 4),
            "hard_routed_to_fast": self.hard_to_fast,
            "tier": self.tier,
            "output_tokens_assumed": self.output_tokens,
            "cost_usd": float(round(self.cost_usd, 6)),
            "all_smart_usd": float(round(self.all_smart_usd, 6)),
            "all_fast_usd": float(round(self.all_fast_usd, 6)),
            "savings_vs_all_smart_pct": round(float(1 - self.cost_usd / self.all_smart_usd) * 100, 1)
            if self.all_smart_usd
            else 0.0,
        }


def evaluate(
    examples: Sequence[Example],
    classifier: QueryClassifier,
    policy: MobiusPolicy,
    *,
    prices: Mapping[str, tuple[Decimal, Decimal]],
    windows: Mapping[str, int],
    count_tokens: Callable[[list[dict[str, str]]], int],
    tier: Tier = "pro",
    output_tokens: int = 400,
) -> Evaluation:
    """Classify and route every example as a `tier` caller; count and price the routes."""
    confusion: Counter[tuple[QueryType, QueryType]] = Counter()
    cost = smart = fast = Decimal(0)
    hard_to_fast = 0

    for example in examples:
        messages = [{"role": r, "content": c} for r, c in example.messages]
        tokens = count_tokens(messages)
        classification = classifier.classify(example.messages, tokens)
        confusion[(example.label, classification.query_type)] += 1
        try:
            group = decide_route(classification, tier, policy, windows).group
        except RouteRejected:
            continue  # too long for any group: no route, no cost
        hard_to_fast += example.label in CAPABLE and group == "fast"
        cost += route_cost(prices, group, tokens, output_tokens)
        smart += route_cost(prices, "smart", tokens, output_tokens)
        fast += route_cost(prices, "fast", tokens, output_tokens)
    return Evaluation(dict(confusion), len(examples), cost, smart, fast, hard_to_fast, output_tokens, tier)
