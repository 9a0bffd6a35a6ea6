"""The shipped query classifier: held-out floors that can fail, offline, and its decision rule."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import numpy as np
import pytest

from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.classifier import ModelClassifier, build_classifier
from routing.corpus import load_corpus
from routing.evaluation import Evaluation, evaluate
from routing.price_map import group_prices, group_windows
from routing.query_model import MODEL_PATH, QueryModel, Thresholds, corpus_digest, decide, file_digest
from routing.router_config import load_router_config
from routing.tokens import count_tokens
from schemas.vocabulary import QUERY_TYPES

CONFIG = load_router_config(DEFAULT_ROUTER_CONFIG)


@pytest.fixture(scope="module")
def held_out() -> Evaluation:
    return evaluate(
        load_corpus("held_out"),
        build_classifier(CONFIG.mobius.classifier),
        CONFIG.mobius,
        prices=group_prices(CONFIG),
        windows=group_windows(CONFIG),
        count_tokens=count_tokens,
    )


def test_held_out_accuracy_and_recall_of_hard_queries_meet_their_floors(held_out: Evaluation) -> None:
    assert held_out.total >= 400
    assert held_out.accuracy >= 0.92
    assert held_out.recall("complex") >= 0.92
    assert held_out.recall("code") >= 0.92
    assert held_out.simple_to_capable <= 0.08


def test_the_routes_save_against_all_smart_without_sending_hard_queries_to_fast(held_out: Evaluation) -> None:
    hard = held_out.count("complex") + held_out.count("code")
    assert held_out.hard_to_fast <= 0.08 * hard
    assert held_out.cost_usd < held_out.all_smart_usd


def test_the_shipped_model_is_the_one_trained_on_this_corpus() -> None:
    model = QueryModel.load()
    assert model.corpus_digest == corpus_digest(load_corpus("train")), "corpus changed: mobius train-router"
    recorded = MODEL_PATH.with_suffix(".sha256").read_text().split()[0]
    assert file_digest(MODEL_PATH) == recorded
    assert MODEL_PATH.stat().st_size <= 20 * 1024 * 1024


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


@pytest.mark.usefixtures("no_network")
def test_the_classifier_loads_and_decides_with_the_network_unreachable() -> None:
    classifier = build_classifier(CONFIG.mobius.classifier)
    messages = [("user", "Prove that the square root of 2 is irrational.")]
    decision = classifier.classify(messages, count_tokens([{"role": "user", "content": messages[0][1]}]))
    assert decision.query_type == "complex" and decision.cause == "model"
    assert sum(decision.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_probabilities_are_calibrated_on_held_out() -> None:
    """Of the queries given ~p for their chosen type, about p are right (expected calibration error)."""
    model = QueryModel.load()
    examples = load_corpus("held_out")
    chosen, right = [], []
    for example in examples:
        p = model.probabilities(example.messages)
        best = max(p, key=p.__getitem__)
        chosen.append(p[best])
        right.append(best == example.label)
    confidence, correct = np.array(chosen), np.array(right)
    bins = np.minimum((confidence * 10).astype(int), 9)
    error = sum(
        abs(confidence[bins == b].mean() - correct[bins == b].mean()) * (bins == b).mean()
        for b in range(10)
        if (bins == b).any()
    )
    assert error <= 0.05


def test_size_and_hints_come_before_the_model() -> None:
    classifier = build_classifier(CONFIG.mobius.classifier)
    assert isinstance(classifier, ModelClassifier)
    assert classifier.classify([("user", "hi")], 50_000, "code").cause == "size"
    assert classifier.classify([("user", "hi")], 5, "code").query_type == "code"


def _p(**given: float) -> list[float]:
    return [given.get(t, 0.0) for t in QUERY_TYPES]


def test_unsure_never_means_simple() -> None:
    thresholds = Thresholds(complex=0.5, code=0.5, unsure=0.5)
    assert decide(_p(simple=0.45, complex=0.3, code=0.25), thresholds) == ("complex", "unsure")
    assert decide(_p(simple=0.45, complex=0.2, code=0.35), thresholds) == ("code", "unsure")
    assert decide(_p(simple=0.6, complex=0.3, code=0.1), thresholds) == ("simple", "model")
    assert decide(_p(simple=0.4, complex=0.55, code=0.05), Thresholds(complex=0.3)) == ("complex", "model")
    assert decide(_p(long_context=0.9, simple=0.1), thresholds) == ("long_context", "model")
