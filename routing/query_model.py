"""The trained query classifier: hashed word and character n-grams of the bounded view of a
conversation (routing/features.py) plus its structure, scored by a multinomial logistic
regression (scikit-learn), with a temperature fitted on out-of-fold scores so its probabilities
are calibrated. Trained by `mobius train-router` from routing/corpus/; runs on CPU, offline.

Why this method: on the held-out split it beat the keyword rules by a wide margin at a fraction
of a millisecond per decision, the artifact is a few megabytes of numbers (no pickle), and a
linear model's weights can be read when a route looks wrong. README "How a query is routed" has
the figures.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from routing.corpus import Example
from routing.features import QueryView, view
from routing.ngrams import NgramBlock, char_grams, word_grams
from schemas.vocabulary import QUERY_TYPES, QueryType

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix as Matrix

# scipy and scikit-learn are imported inside the training and batch functions: the worker only
# scores one query at a time with numpy, and importing them would cost it ~100 MB of memory.

MODEL_PATH = Path(__file__).resolve().parent / "model" / "query_model.npz"
SIMPLE = QUERY_TYPES.index("simple")
WORDS_AND_SYMBOLS = r"(?u)\b\w+\b|[^\w\s]"  # code's punctuation carries signal: keep each symbol
HARD = (QUERY_TYPES.index("complex"), QUERY_TYPES.index("code"))


@dataclass(frozen=True)
class ModelSpec:
    """Hyperparameters, fixed here so that retraining on the same corpus reproduces the model."""

    char_window: int = 500  # characters of the question's head read for character n-grams
    min_df: int = 2  # n-grams seen in fewer training queries carry no weight
    block_weights: tuple[float, float, float, float] = (1.0, 1.0, 0.5, 2.0)
    c: float = 10.0
    folds: int = 3
    seed: int = 7
    # The thresholds are chosen on out-of-fold scores: the best recall of complex and code whose
    # share of simple queries sent to a capable group stays at or under this.
    max_simple_to_capable: float = 0.07


@dataclass(frozen=True)
class Thresholds:
    """P(complex) or P(code) at or above these routes to a capable group; below `unsure` for
    P(simple), the query is treated as hard (unsure never means simple)."""

    complex: float = 0.5
    code: float = 0.5
    unsure: float = 0.5
    long_context: float = 0.5


def _texts(spec: ModelSpec, views: Sequence[QueryView]) -> list[list[str]]:
    """What each n-gram block reads of each view."""
    return [
        [v.question for v in views],
        [v.question[: spec.char_window] for v in views],
        [v.context for v in views],
    ]


ANALYZERS: tuple[Callable[[str], list[str]], ...] = (word_grams, char_grams, word_grams)


class QueryModel:
    """Probabilities of each query type for a conversation; see the module docstring."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        blocks: list[NgramBlock],
        coef: NDArray[np.float32],
        intercept: NDArray[np.float32],
        temperature: float = 1.0,
        thresholds: Thresholds = Thresholds(),
        corpus_digest: str = "",
    ) -> None:
        self.spec = spec
        self.blocks = blocks
        self.coef = coef
        self.intercept = intercept
        self.temperature = temperature
        self.thresholds = thresholds
        self.corpus_digest = corpus_digest
        # Each block's columns of the weights, and the structure's, for the one-query fast path.
        starts = np.cumsum([0] + [len(b.vocabulary) for b in blocks])
        self._block_coef = [coef[:, a:b] for a, b in itertools.pairwise(starts)]
        self._structure_coef = coef[:, starts[-1] :]

    def features(self, views: Sequence[QueryView]) -> Matrix:
        """The design matrix of many views (training and batch scoring)."""
        from scipy.sparse import csr_matrix, hstack  # noqa: PLC0415 - batch path only (see above)

        weights = self.spec.block_weights
        texts = _texts(self.spec, views)
        parts = [block.matrix(t) * w for block, t, w in zip(self.blocks, texts, weights, strict=False)]
        structure = csr_matrix(np.array([v.numbers for v in views], np.float32) * weights[3])
        return csr_matrix(hstack([*parts, structure], format="csr"))

    def logits(self, features: Matrix) -> NDArray[np.float64]:
        return np.asarray(features @ self.coef.T, dtype=np.float64) + self.intercept

    def probabilities(self, messages: Sequence[tuple[str, str]]) -> dict[QueryType, float]:
        """P(type) for one conversation, without building a sparse matrix (the worker's path)."""
        one = view(messages)
        weights = self.spec.block_weights
        logits = (
            self.intercept.astype(np.float64) + self._structure_coef @ np.asarray(one.numbers) * weights[3]
        )
        for block, coef, texts, weight in zip(
            self.blocks, self._block_coef, _texts(self.spec, [one]), weights, strict=False
        ):
            columns, values = block.vector(texts[0])
            if len(columns):
                logits += (coef[:, columns] @ values) * weight
        scores = _softmax(logits[None, :] / self.temperature)[0]
        return {label: float(p) for label, p in zip(QUERY_TYPES, scores, strict=True)}

    def save(self, path: Path = MODEL_PATH) -> str:
        """Write the artifact (numbers and n-grams, no pickle); its sha256."""
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "spec": asdict(self.spec),
            "thresholds": asdict(self.thresholds),
            "temperature": self.temperature,
            "labels": list(QUERY_TYPES),
            "corpus_digest": self.corpus_digest,
            "vocabularies": [sorted(b.vocabulary, key=b.vocabulary.__getitem__) for b in self.blocks],
        }
        arrays: dict[str, NDArray[np.generic]] = {
            "meta": np.frombuffer(json.dumps(meta, sort_keys=True, ensure_ascii=False).encode(), np.uint8),
            "coef": self.coef,
            "intercept": self.intercept,
        }
        arrays |= {f"idf{i}": block.idf for i, block in enumerate(self.blocks)}
        with path.open("wb") as handle:
            np.savez_compressed(handle, allow_pickle=False, **arrays)
        return file_digest(path)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> QueryModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if tuple(meta["labels"]) != QUERY_TYPES:
                raise ValueError(f"{path} was trained for labels {meta['labels']}")
            spec = meta["spec"]
            spec["block_weights"] = tuple(spec["block_weights"])
            blocks = [
                NgramBlock(analyzer, {g: i for i, g in enumerate(grams)}, data[f"idf{n}"])
                for n, (analyzer, grams) in enumerate(zip(ANALYZERS, meta["vocabularies"], strict=True))
            ]
            return cls(
                ModelSpec(**spec),
                blocks=blocks,
                coef=data["coef"],
                intercept=data["intercept"],
                temperature=float(meta["temperature"]),
                thresholds=Thresholds(**meta["thresholds"]),
                corpus_digest=str(meta["corpus_digest"]),
            )


def train(examples: Sequence[Example], spec: ModelSpec = ModelSpec()) -> QueryModel:
    """Fit on `examples`; calibrate and choose thresholds on out-of-fold scores."""
    from sklearn.model_selection import StratifiedKFold  # noqa: PLC0415 - training only (see above)

    views = [view(e.messages) for e in examples]
    labels = np.array([QUERY_TYPES.index(e.label) for e in examples])
    oof = np.zeros((len(examples), len(QUERY_TYPES)))
    folds = StratifiedKFold(spec.folds, shuffle=True, random_state=spec.seed)
    for fit_rows, score_rows in folds.split(np.zeros(len(labels)), labels):
        part = _fit([views[i] for i in fit_rows], labels[fit_rows], spec)
        oof[score_rows] = part.logits(part.features([views[i] for i in score_rows]))
    model = _fit(views, labels, spec)
    model.temperature = _fit_temperature(oof, labels)
    model.thresholds = choose_thresholds(
        _softmax(oof / model.temperature), labels, spec.max_simple_to_capable
    )
    model.corpus_digest = corpus_digest(examples)
    return model


def _fit(views: Sequence[QueryView], labels: NDArray[np.int_], spec: ModelSpec) -> QueryModel:
    texts = _texts(spec, views)
    blocks = [NgramBlock.fit(a, t, spec.min_df) for a, t in zip(ANALYZERS, texts, strict=True)]
    untrained = QueryModel(
        spec, blocks=blocks, coef=np.zeros((0, 0), np.float32), intercept=np.zeros(0, np.float32)
    )
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - training only (see above)

    regression = LogisticRegression(C=spec.c, max_iter=3000, class_weight="balanced")
    regression.fit(untrained.features(views), labels)
    return QueryModel(
        spec,
        blocks=blocks,
        coef=regression.coef_.astype(np.float32),
        intercept=regression.intercept_.astype(np.float32),
    )


def _fit_temperature(logits: NDArray[np.float64], labels: NDArray[np.int_]) -> float:
    from scipy.optimize import minimize_scalar  # noqa: PLC0415 - training only (see above)

    def loss(t: float) -> float:
        p = _softmax(logits / t)
        return float(-np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12)))

    return float(minimize_scalar(loss, bounds=(0.2, 5.0), method="bounded").x)


def choose_thresholds(
    probabilities: NDArray[np.float64], labels: NDArray[np.int_], max_simple_to_capable: float
) -> Thresholds:
    """The thresholds with the best worst-of(recall of complex, recall of code) among those that
    send at most `max_simple_to_capable` of simple queries to a capable group (ties: accuracy)."""
    best: tuple[float, float, Thresholds] | None = None
    grid = [round(0.2 + 0.05 * i, 2) for i in range(7)]  # 0.20 .. 0.50
    for t_complex in grid:
        for t_code in grid:
            thresholds = Thresholds(complex=t_complex, code=t_code)
            chosen = np.array([QUERY_TYPES.index(decide(p, thresholds)[0]) for p in probabilities])
            simple = labels == SIMPLE
            to_capable = float(np.mean(np.isin(chosen[simple], HARD))) if simple.any() else 0.0
            if to_capable > max_simple_to_capable:
                continue
            recalls = [float(np.mean(chosen[labels == k] == k)) for k in HARD if (labels == k).any()]
            score = (min(recalls, default=0.0), float(np.mean(chosen == labels)))
            if best is None or score > best[:2]:
                best = (*score, thresholds)
    return best[2] if best is not None else Thresholds()


ModelCause = Literal["model", "unsure"]


def decide(probabilities: Sequence[float], thresholds: Thresholds) -> tuple[QueryType, ModelCause]:
    """(query type, cause) from the probabilities in QUERY_TYPES order."""
    p = dict(zip(QUERY_TYPES, (float(x) for x in probabilities), strict=True))
    p_simple, p_complex, p_long, p_code = p["simple"], p["complex"], p["long_context"], p["code"]
    if p_long >= thresholds.long_context:
        return "long_context", "model"
    hard: QueryType = "code" if p_code >= p_complex else "complex"
    if p_code >= thresholds.code or p_complex >= thresholds.complex:
        return hard, "model"
    if p_simple < thresholds.unsure:
        return hard, "unsure"
    return "simple", "model"


def corpus_digest(examples: Sequence[Example]) -> str:
    text = json.dumps([(e.id, e.label, e.messages) for e in examples], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
    return result
