"""The routing-quality commands as other tools call them: classify, eval-router, train-router."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mobius.settings import DEFAULT_ROUTER_CONFIG
from routing.query_model import MODEL_PATH, file_digest
from schemas.vocabulary import QUERY_TYPES
from tests.support.cli import run_mobius

LINES = [
    {"text": "What is the capital of Peru?"},
    {"text": "A tank fills in 6 h with pipe A and 9 h with pipe B; pipe C empties it in 12 h. All open?"},
    {"text": "Dockerfile for a node 20 app, multi-stage, non-root user", "tier": "free"},
    {
        "messages": [
            {"role": "user", "content": "write a bash script that backs up ~/docs to s3 nightly"},
            {"role": "assistant", "content": "#!/bin/bash\naws s3 sync ~/docs s3://bucket/docs"},
            {"role": "user", "content": "thanks! unrelated: who painted the Mona Lisa?"},
        ],
        "tier": "enterprise",
    },
]


def test_classify_answers_one_json_line_per_input_in_order() -> None:
    stdin = "\n".join(json.dumps(line) for line in LINES) + "\nnot json\n"
    result = run_mobius("classify", env={}, stdin=stdin, timeout=120)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(LINES) + 1 and "error" in out[-1]
    for decision in out[:-1]:
        assert set(decision) == {"query_type", "probabilities", "group", "cause"}
        assert set(decision["probabilities"]) == set(QUERY_TYPES)
        assert abs(sum(decision["probabilities"].values()) - 1) < 0.01
    assert [d["query_type"] for d in out[:-1]] == ["simple", "complex", "code", "simple"]
    assert [d["group"] for d in out[:-1]] == ["fast", "smart", "fast", "fast"]  # free tier: fast only


def test_eval_router_prints_the_confusion_recall_and_cost(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labels = ["simple", "complex", "code", "simple"]
    labeled.write_text(
        "\n".join(json.dumps({**line, "label": label}) for line, label in zip(LINES, labels, strict=True))
    )
    result = run_mobius("eval-router", str(labeled), "--json", env={}, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["total"] == 4 and report["accuracy"] == 1.0
    assert report["confusion"]["complex"]["complex"] == 1
    assert report["per_class"]["code"]["recall"] == 1.0
    assert 0 < report["cost_usd"] < report["all_smart_usd"]
    assert report["output_tokens_assumed"] == 400
    table = run_mobius("eval-router", str(labeled), env={}, timeout=120)
    assert table.returncode == 0 and "recall" in table.stdout and "all-smart" in table.stdout


def test_eval_router_rejects_an_unknown_label_clearly(tmp_path: Path) -> None:
    labeled = tmp_path / "bad.jsonl"
    labeled.write_text(json.dumps({"label": "hard", "text": "x"}))
    result = run_mobius("eval-router", str(labeled), env={}, timeout=120)
    assert result.returncode == 1 and "unknown label 'hard'" in result.stderr


def test_the_rules_classifier_is_a_configured_fallback(tmp_path: Path) -> None:
    config = yaml.safe_load(DEFAULT_ROUTER_CONFIG.read_text())
    config["mobius"]["classifier"]["method"] = "rules"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_mobius("classify", "--config", str(path), env={}, stdin=json.dumps(LINES[0]) + "\n")
    assert json.loads(result.stdout)["cause"] == "rules"


def test_train_router_reproduces_the_shipped_model(tmp_path: Path) -> None:
    output = tmp_path / "model.npz"
    result = run_mobius("train-router", "--output", str(output), env={}, timeout=600)
    assert result.returncode == 0, result.stderr
    assert file_digest(output) == file_digest(MODEL_PATH)  # byte for byte: fixed seeds, sorted vocabulary
    assert output.with_suffix(".sha256").read_text().split()[0] == file_digest(MODEL_PATH)
