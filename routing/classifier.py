"""What kind of query this is, with the probabilities and the cause behind the answer (pure).

Order of causes: a prompt past the configured size is long_context whatever it asks (`size`); an
enterprise caller's type hint is honoured (`hint`); otherwise the trained model decides (`model`,
or `unsure` when no type is likely enough and the query is treated as hard), or the keyword rules
when configured (`rules`). Every decision reads a bounded view of the conversation, so its cost
does not grow with the prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from routing.query_model import MODEL_PATH, QueryModel, Thresholds, decide
from routing.router_config import ClassifierSettings
from routing.rules_classifier import rules_type
from schemas.vocabulary import QUERY_TYPES, QueryType

Cause = Literal["size", "hint", "model", "unsure", "rules"]
Messages = Sequence[tuple[str, str]]  # (role, content)


@dataclass(frozen=True)
class Classification:
    """A query's type, how sure the classifier is of each type, and why it chose this one."""

    query_type: QueryType
    prompt_tokens: int
    cause: Cause
    probabilities: Mapping[QueryType, float] = field(default_factory=dict)
    complexity: float = 0.0  # P(complex) for the model; the keyword score for the rules

    def probability(self, query_type: QueryType) -> float:
        return float(self.probabilities.get(query_type, 0.0))


class QueryClassifier(Protocol):
    """Types a conversation; the model and the rules both implement it."""

    def classify(
        self, messages: Messages, prompt_tokens: int, hinted_type: QueryType | None = None
    ) -> Classification: ...


class ModelClassifier:
    """The trained model (routing/query_model.py) behind the size rule and hints."""

    def __init__(self, model: QueryModel, long_context_tokens: int, thresholds: Thresholds | None = None):
        self.model = model
        self.long_context_tokens = long_context_tokens
        self.thresholds = thresholds or model.thresholds

    def classify(
        self, messages: Messages, prompt_tokens: int, hinted_type: QueryType | None = None
    ) -> Classification:
        probabilities = self.model.probabilities(messages)
        complexity = probabilities["complex"]
        if prompt_tokens >= self.long_context_tokens:
            # Size wins over a hint: a small model cannot read the prompt at all.
            return Classification("long_context", prompt_tokens, "size", probabilities, complexity)
        if hinted_type is not None:
            return Classification(hinted_type, prompt_tokens, "hint", probabilities, complexity)
        query_type, cause = decide([probabilities[t] for t in QUERY_TYPES], self.thresholds)
        return Classification(query_type, prompt_tokens, cause, probabilities, complexity)


class RulesClassifier:
    """The keyword rules (routing/rules_classifier.py), kept as a configured fallback."""

    def __init__(self, long_context_tokens: int, complex_threshold: float) -> None:
        self.long_context_tokens = long_context_tokens
        self.complex_threshold = complex_threshold

    def classify(
        self, messages: Messages, prompt_tokens: int, hinted_type: QueryType | None = None
    ) -> Classification:
        query_type, complexity = rules_type([content for _, content in messages], self.complex_threshold)
        if prompt_tokens >= self.long_context_tokens:
            return Classification("long_context", prompt_tokens, "size", complexity=complexity)
        if hinted_type is not None:
            return Classification(hinted_type, prompt_tokens, "hint", complexity=complexity)
        return Classification(query_type, prompt_tokens, "rules", complexity=complexity)


def build_classifier(settings: ClassifierSettings, base_dir: Path | None = None) -> QueryClassifier:
    """The classifier the config asks for; the model is loaded once, here."""
    if settings.method == "rules":
        return RulesClassifier(settings.long_context_tokens, settings.complex_threshold)
    path = MODEL_PATH
    if settings.model_path is not None:
        path = (
            settings.model_path
            if settings.model_path.is_absolute()
            else (base_dir or Path()) / settings.model_path
        )
    model = QueryModel.load(path)
    overrides = settings.thresholds
    thresholds = Thresholds(**{**model.thresholds.__dict__, **overrides}) if overrides else None
    return ModelClassifier(model, settings.long_context_tokens, thresholds)
