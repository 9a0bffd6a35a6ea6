"""Commands for the quality of routing decisions: classify, eval-router, train-router, replay."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mobius.cli.common import console, err_console, fail, load_settings
from routing.router_config import RouterConfig, RouterConfigError, load_router_config
from schemas.vocabulary import QUERY_TYPES, TIERS

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="A router config (default: MOBIUS_ROUTER_CONFIG).")
]


def _config(path: Path | None) -> tuple[RouterConfig, Path]:
    chosen = path or load_settings().router_config
    try:
        return load_router_config(chosen), chosen.resolve().parent
    except RouterConfigError as exc:
        raise fail(str(exc)) from None


def classify(config: ConfigOption = None) -> None:
    """Read JSON lines on stdin ({"text"} or {"messages"}, optional "tier"); write one decision
    per line, in order: {"query_type", "probabilities", "group", "cause"}."""
    from routing.classifier import build_classifier
    from routing.corpus import messages_of
    from routing.policy import RouteRejected, decide_route
    from routing.price_map import group_windows
    from routing.tokens import count_tokens

    router_config, base = _config(config)
    classifier = build_classifier(router_config.mobius.classifier, base)
    windows = group_windows(router_config)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            messages = messages_of(item)
            tier = item.get("tier", "pro")
            if tier not in TIERS:
                raise ValueError(f"unknown tier {tier!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            print(json.dumps({"error": f"unreadable line: {exc}"}), flush=True)
            continue
        tokens = count_tokens([{"role": r, "content": c} for r, c in messages])
        decision = classifier.classify(messages, tokens)
        out: dict[str, object] = {
            "query_type": decision.query_type,
            "probabilities": {t: round(decision.probability(t), 4) for t in QUERY_TYPES},
            "cause": decision.cause,
        }
        try:
            out["group"] = decide_route(decision, tier, router_config.mobius, windows).group
        except RouteRejected as exc:
            out |= {"group": None, "error": exc.code}
        print(json.dumps(out, ensure_ascii=False), flush=True)


def eval_router(
    file: Annotated[
        Path | None, typer.Argument(help='Labeled JSON lines: {"label": ..., "text": ...} or "messages".')
    ] = None,
    held_out: Annotated[
        bool, typer.Option("--held-out", help="Evaluate the corpus's held-out split instead of a file.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    tier: Annotated[str, typer.Option(help="The tier the queries are routed for.")] = "pro",
    output_tokens: Annotated[
        int, typer.Option(help="Output tokens assumed for every query when pricing routes.")
    ] = 400,
    config: ConfigOption = None,
) -> None:
    """Confusion matrix, precision and recall per class, and the cost of the routes against
    sending everything to `smart` or to `fast`, at the config's prices."""
    from routing.classifier import build_classifier
    from routing.corpus import example_from_json, load_corpus
    from routing.evaluation import evaluate
    from routing.price_map import group_prices, group_windows
    from routing.tokens import count_tokens

    if tier not in TIERS:
        raise fail(f"unknown tier {tier!r}: use free, pro or enterprise")
    router_config, base = _config(config)
    if (file is None) == (not held_out):
        raise fail("give a labeled FILE.jsonl or --held-out")
    if file is None:
        examples = load_corpus("held_out")
    else:
        try:
            lines = [json.loads(raw) for raw in file.read_text(encoding="utf-8").splitlines() if raw.strip()]
            examples = [example_from_json(line) for line in lines]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise fail(f"cannot read {file}: {exc}") from None
    result = evaluate(
        examples,
        build_classifier(router_config.mobius.classifier, base),
        router_config.mobius,
        prices=group_prices(router_config),
        windows=group_windows(router_config),
        count_tokens=count_tokens,
        tier=tier,
        output_tokens=output_tokens,
    ).as_dict()
    if as_json:
        print(json.dumps(result))
        return
    _print_evaluation(result)


# OpenBLAS picks its kernels by CPU when it loads, and the fit's path follows their rounding: the
# shipped model came from its AVX2 ("Haswell") kernels, and an AVX-512 CPU's gave other weights and
# thresholds. Training pins them where the CPU has AVX2, so the artifact is the same byte for byte.
PINNED_BLAS_KERNELS = "Haswell"


def _rerun_with_pinned_blas() -> None:
    """Start this command again with OpenBLAS's kernels pinned (numpy is loaded by now)."""
    if os.environ.get("OPENBLAS_CORETYPE") or not _cpu_flag("avx2"):
        return
    os.execve(sys.executable, sys.orig_argv, os.environ | {"OPENBLAS_CORETYPE": PINNED_BLAS_KERNELS})  # noqa: S606 - this same command, argv as given


def _cpu_flag(flag: str) -> bool:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: OpenBLAS's own choice
        return False
    return any(line.startswith("flags") and flag in line.split() for line in info.splitlines())


def train_router(
    output: Annotated[
        Path | None, typer.Option(help="Where to write the model (default: the shipped one).")
    ] = None,
) -> None:
    """Retrain the query classifier from routing/corpus/ (train split, fixed seed): reproducible."""
    _rerun_with_pinned_blas()
    from routing.corpus import load_corpus
    from routing.query_model import MODEL_PATH, train

    with console.status("training the query classifier on the corpus's train split..."):
        model = train(load_corpus("train"))
    path = output or MODEL_PATH
    digest = model.save(path)
    path.with_suffix(".sha256").write_text(f"{digest}  {path.name}\n")
    t = model.thresholds
    console.print(
        f"model written to {path} (sha256 {digest[:16]}...); temperature "
        f"{model.temperature:.3f}; thresholds complex {t.complex}, code {t.code}, unsure {t.unsure}"
    )


def replay(
    since: Annotated[str, typer.Option(help="How far back: 30m, 24h, 7d.")] = "24h",
    config: Annotated[Path, typer.Option("--config", help="The candidate router config.")] = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Decide the queries still on the topic again with a candidate config (no provider call, no
    offsets moved); how many decisions change, and the estimated cost difference."""
    from analytics.reports import parse_since
    from mobius.tools.replay import ReplayReport, Router, compare, output_tokens_by_request, read_queries

    if config == Path():
        raise fail("give the candidate config: --config candidate.yaml")
    settings = load_settings()
    try:
        start = parse_since(since)
    except ValueError as exc:
        raise fail(str(exc)) from None
    current_config, current_dir = _config(settings.router_config)
    candidate_config, candidate_dir = _config(config)
    queries, malformed = asyncio.run(read_queries(settings, start))
    outputs = output_tokens_by_request(settings, [q.request_id for q in queries])
    report = compare(
        queries,
        Router.of(current_config, current_dir),
        Router.of(candidate_config, candidate_dir),
        outputs,
        ReplayReport(since=start.isoformat(), malformed=malformed),
    ).as_dict()
    if as_json:
        print(json.dumps(report))
        return
    table = Table(title=f"replay since {report['since']}: {report['changed']} of {report['queries']} change")
    for column in ("tier", "from", "to", "queries"):
        table.add_column(column)
    for change in report["changes"]:
        table.add_row(change["tier"], change["from"], change["to"], str(change["count"]))
    console.print(table)
    console.print(
        f"cost: current ${report['current_cost_usd']:.6f}, candidate ${report['candidate_cost_usd']:.6f} "
        f"(difference ${report['cost_difference_usd']:+.6f}); output tokens from completion records for "
        f"{report['output_tokens_from_completion_records']}, assumed for {report['output_tokens_assumed']}"
    )


def _print_evaluation(result: dict[str, object]) -> None:
    confusion = result["confusion"]
    assert isinstance(confusion, dict)  # noqa: S101 - built by Evaluation.as_dict
    table = Table(title=f"confusion (rows: label, columns: predicted), accuracy {result['accuracy']:.1%}")
    table.add_column("label")
    for predicted in QUERY_TYPES:
        table.add_column(predicted, justify="right")
    per_class = result["per_class"]
    assert isinstance(per_class, dict)  # noqa: S101
    table.add_column("precision", justify="right")
    table.add_column("recall", justify="right")
    for label in QUERY_TYPES:
        row = [str(confusion[label][p]) for p in QUERY_TYPES]
        stats = per_class[label]
        table.add_row(label, *row, f"{stats['precision']:.3f}", f"{stats['recall']:.3f}")
    console.print(table)
    err_console.print(
        f"simple sent to a capable group: {result['simple_to_capable']:.1%}; hard queries routed to fast "
        f"({result['tier']} tier): {result['hard_routed_to_fast']}"
    )
    console.print(
        f"cost of these routes ${result['cost_usd']:.6f} vs all-smart ${result['all_smart_usd']:.6f} "
        f"({result['savings_vs_all_smart_pct']}% saved) vs all-fast ${result['all_fast_usd']:.6f}; "
        f"prompt tokens counted, {result['output_tokens_assumed']} output tokens assumed per query"
    )


def register(app: typer.Typer) -> None:
    app.command()(classify)
    app.command("eval-router")(eval_router)
    app.command("train-router")(train_router)
    app.command()(replay)
