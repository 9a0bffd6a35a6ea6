import logging

import litellm
import pytest

from routing.attempts import AttemptLog
from routing.fallback_monitor import FallbackMonitor


def _kwargs(
    request_id: str, model: str = "claude-sonnet-4-5", exc: Exception | None = None
) -> dict[str, object]:
    return {
        "model": model,
        "exception": exc,
        "litellm_params": {"custom_llm_provider": "anthropic", "metadata": {"mobius_request_id": request_id}},
    }


async def test_failed_attempts_are_kept_per_request_with_their_code() -> None:

    log = AttemptLog()
    error = litellm.RateLimitError("slow down", llm_provider="anthropic", model="claude-sonnet-4-5")
    await log.async_log_failure_event(_kwargs("r1", exc=error), None, None, None)
    await log.async_log_failure_event(_kwargs("r2"), None, None, None)
    first = log.pop("r1")
    assert [(a.model, a.code) for a in first] == [("anthropic/claude-sonnet-4-5", "rate_limited")]
    assert log.pop("r1") == []
    assert [a.code for a in log.pop("r2")] == ["provider_error"]


async def test_each_fallback_warns_and_repeats_raise_one_alert(caplog: pytest.LogCaptureFixture) -> None:
    log = AttemptLog(FallbackMonitor(threshold=3, window_s=60))
    with caplog.at_level(logging.WARNING, logger="mobius.routing"):
        for i in range(3):
            await log.log_success_fallback_event(
                "smart", _kwargs(f"r{i}", model="fast"), RuntimeError("down")
            )
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and "fallback from group smart to fast" in warnings[0].getMessage()
    assert log.drain_alerts() == [
        ("fallback_storm", "group:smart", "model group smart fell back 3 times within 60 s")
    ]
    assert log.drain_alerts() == []
    assert any(r.levelno == logging.ERROR and "ALERT" in r.getMessage() for r in caplog.records)


async def test_repeated_deployment_failures_raise_one_cooldown_alert() -> None:
    log = AttemptLog(allowed_fails=2)
    down = litellm.InternalServerError("overloaded", llm_provider="anthropic", model="claude-sonnet-4-5")
    refused = litellm.ContentPolicyViolationError("no", llm_provider="anthropic", model="claude-sonnet-4-5")
    await log.async_log_failure_event(_kwargs("r0", exc=refused), None, None, None)  # the caller's fault
    for i in range(4):
        await log.async_log_failure_event(_kwargs(f"r{i}", exc=down), None, None, None)
    alerts = log.drain_alerts()
    assert [(kind, subject) for kind, subject, _ in alerts] == [
        ("deployment_cooldown", "deployment:anthropic/claude-sonnet-4-5")
    ]
