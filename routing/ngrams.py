"""The n-gram features of the query classifier: what each block reads, its vocabulary and idf,
and the sparse tf-idf vector of one text (the worker's per-query path builds no sparse matrix)."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix as Matrix

# Chinese, Japanese and Korean scripts have no spaces between words: each character is a token.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|\w+|[^\w\s]")


def word_grams(text: str) -> list[str]:
    """Lowercased words (and each symbol, which carries code's signal) and their bigrams."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def char_grams(text: str) -> list[str]:
    """Character 3- and 4-grams inside each space-padded word (spelling, morphology, scripts)."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        grams += [padded[i : i + 3] for i in range(len(padded) - 2)]
        grams += [padded[i : i + 4] for i in range(len(padded) - 3)]
    return grams


@dataclass
class NgramBlock:
    """One block of n-gram features: what it reads, its vocabulary and the idf of each entry."""

    analyzer: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: NDArray[np.float32]

    def vector(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Sublinear tf-idf of `text` over the vocabulary, scaled to unit length (sparse)."""
        counts = Counter(i for gram in self.analyzer(text) if (i := self.vocabulary.get(gram)) is not None)
        if not counts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        columns = np.fromiter(counts.keys(), np.int64, len(counts))
        tf = np.fromiter(counts.values(), np.float32, len(counts))
        values: NDArray[np.float32] = (np.float32(1.0) + np.log(tf)) * self.idf[columns]
        return columns, (values / np.linalg.norm(values)).astype(np.float32)

    def matrix(self, texts: Sequence[str]) -> Matrix:
        """The rows of many texts (training and batch scoring; the worker uses `vector`)."""
        from scipy.sparse import csr_matrix  # noqa: PLC0415 - not on the worker's path

        rows, cols, vals = [], [], []
        for row, text in enumerate(texts):
            columns, values = self.vector(text)
            rows.append(np.full(len(columns), row))
            cols.append(columns)
            vals.append(values)
        shape = (len(texts), len(self.vocabulary))
        return csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)

    @staticmethod
    def fit(analyzer: Callable[[str], list[str]], texts: Sequence[str], min_df: int) -> NgramBlock:
        """Vocabulary and smoothed idf (as scikit-learn's TfidfVectorizer computes them)."""
        df = Counter(gram for text in texts for gram in set(analyzer(text)))
        kept = sorted(gram for gram, n in df.items() if n >= min_df)
        documents = len(texts)
        idf = np.array([np.log((1 + documents) / (1 + df[g])) + 1 for g in kept], np.float32)
        return NgramBlock(analyzer, {g: i for i, g in enumerate(kept)}, idf)
