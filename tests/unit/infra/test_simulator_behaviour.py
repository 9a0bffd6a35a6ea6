from infra.simulator.behaviour import (
    CONTENT_POLICY_MARKER,
    Controls,
    RateWindow,
    _answer_length,
    _answer_text,
    decide,
    profile,
)


def _decide(model: str, text: str = "hello", controls: Controls | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return decide(
        model,
        [text],
        50,
        controls=controls or Controls(),
        rates=kw.pop("rates", RateWindow()),
        roll=kw.pop("roll", 0.9),
        now=0.0,
    )  # type: ignore[arg-type]


def test_context_windows_come_from_litellms_price_map() -> None:
    assert profile("gpt-4o-mini").context_window == 128_000  # type: ignore[union-attr]
    assert profile("claude-haiku-4-5").provider == "anthropic"  # type: ignore[union-attr]
    assert profile("no-such-model") is None


def test_outcomes() -> None:
    assert _decide("gpt-4o-mini").kind == "ok"
    assert _decide("gpt-4o-mini", "x" * 600_000).kind == "context_window"
    assert _decide("claude-haiku-4-5", "x" * 600_000).kind == "ok"  # 150k tokens fit in 200k
    assert _decide("claude-haiku-4-5", "x" * 900_000).kind == "context_window"
    assert _decide("gpt-4o-mini", f"{CONTENT_POLICY_MARKER} hi").kind == "content_policy"
    assert _decide("gpt-4o-mini", controls=Controls(down={"openai"})).kind == "outage"
    assert (
        _decide("gpt-4o-mini", controls=Controls(error_rate={"gpt-4o-mini": 0.5}), roll=0.4).kind
        == "server_error"
    )
    assert _decide("nope").kind == "unknown_model"


def test_rpm_limit_answers_429_with_retry_after() -> None:
    rates = RateWindow()
    controls = Controls(rpm={"gpt-4o-mini": 2})
    kinds = [
        decide("gpt-4o-mini", ["q"], 10, controls=controls, rates=rates, roll=0.9, now=t).kind
        for t in (0, 1, 2)
    ]
    assert kinds == ["ok", "ok", "rate_limited"]
    limited = decide("gpt-4o-mini", ["q"], 10, controls=controls, rates=rates, roll=0.9, now=30)
    assert limited.retry_after_s == 30
    assert decide("gpt-4o-mini", ["q"], 10, controls=controls, rates=rates, roll=0.9, now=61).kind == "ok"


def test_latency_is_first_token_plus_generation_and_can_be_fixed() -> None:
    outcome = _decide("gpt-4o-mini")
    assert outcome.completion_tokens <= 50
    assert abs(outcome.latency_s - (0.35 + outcome.completion_tokens / 90)) < 1e-9
    assert _decide("gpt-4o-mini", controls=Controls(fixed_latency_ms=200)).latency_s == 0.2


def test_answers_name_the_model_echo_the_question_and_fit_the_kind() -> None:
    simple = ["What is the capital of France?"]
    lookup = _answer_length(simple, 10**9, "gpt-4o-mini")
    reasoning = _answer_length(["Prove that sqrt 2 is irrational"], 10**9, "claude-sonnet-4-5")
    code = _answer_length(["Write a bash script that backs up ~/docs"], 10**9, "gpt-4.1-mini")
    assert lookup < 40 and code >= 80 and reasoning >= 120
    text = _answer_text("gpt-4o-mini", simple, lookup)
    assert "gpt-4o-mini" in text and "capital of France" in text and "\n" not in text
    assert _answer_text("gpt-4o-mini", simple, lookup) == text  # deterministic
    assert _answer_length(simple, 10, "gpt-4o-mini") <= 10  # max_tokens still caps it
