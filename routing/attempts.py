"""LiteLLM callbacks that note what each request tried, and warn about fallbacks.

LiteLLM calls these for every attempt inside `Router.acompletion` (retries, other deployments,
fallback groups). We key them by the request id passed in the call's metadata, so the completion
record can list the models tried, and we log each fallback and alert when a group keeps falling back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from routing.errors import error_code
from routing.fallback_monitor import FallbackMonitor
from schemas.vocabulary import RouterAlertKind

logger = logging.getLogger("mobius.routing")
REQUEST_ID_KEY = "mobius_request_id"
RouterAlert = RouterAlertKind
# Failures that say something about the request, not the deployment: LiteLLM does not cool down for them.
CALLER_ERRORS = frozenset({"context_window_exceeded", "content_policy", "bad_request"})


@dataclass(frozen=True)
class FailedAttempt:
    """One deployment's failure during a request, with our error code."""

    model: str
    code: str


class AttemptLog(CustomLogger):
    """LiteLLM callback: failed attempts per request, fallback storms and cooldowns as alerts."""

    def __init__(self, monitor: FallbackMonitor | None = None, allowed_fails: int = 3) -> None:
        super().__init__()
        self.monitor = monitor or FallbackMonitor()
        # LiteLLM cools a deployment down after more than `allowed_fails` failures in a minute and
        # offers no hook for it; counting the same failures here tells us when that happened.
        self.cooldowns = FallbackMonitor(threshold=allowed_fails + 1, window_s=60.0)
        self.alerts: list[tuple[RouterAlert, str, str]] = []
        self._failed: dict[str, list[FailedAttempt]] = {}

    def pop(self, request_id: str) -> list[FailedAttempt]:
        """The attempts that failed for this request, in order, forgetting them."""
        return self._failed.pop(request_id, [])

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        request_id = _request_id(kwargs)
        if request_id is not None:
            model = str(kwargs.get("model") or "?")
            provider = (kwargs.get("litellm_params") or {}).get("custom_llm_provider")
            exc = kwargs.get("exception")
            code = error_code(exc) if isinstance(exc, Exception) else "provider_error"
            attempt = FailedAttempt(f"{provider}/{model}" if provider else model, code)
            self._failed.setdefault(request_id, []).append(attempt)
            if code not in CALLER_ERRORS and self.cooldowns.record(attempt.model, time.monotonic()):
                times = self.cooldowns.threshold
                # LiteLLM has no public cooldown hook; this is its allowed_fails rule, counted here.
                line = f"deployment {attempt.model} failed {times} times in a minute ({code}): cooled down"
                self.alerts.append(("deployment_cooldown", f"deployment:{attempt.model}", line))
                logger.error("ALERT: %s", line)

    async def log_success_fallback_event(
        self, original_model_group: str, kwargs: dict[str, Any], original_exception: Exception
    ) -> None:
        self._fallback(original_model_group, kwargs, original_exception, succeeded=True)

    async def log_failure_fallback_event(
        self, original_model_group: str, kwargs: dict[str, Any], original_exception: Exception
    ) -> None:
        self._fallback(original_model_group, kwargs, original_exception, succeeded=False)

    def _fallback(self, group: str, kwargs: dict[str, Any], exc: Exception, succeeded: bool) -> None:
        target = kwargs.get("model")
        logger.warning(
            "fallback from group %s to %s (%s) after %s",
            group,
            target,
            "answered" if succeeded else "failed too",
            type(exc).__name__,
            extra={"request_id": _request_id(kwargs)},
        )
        if self.monitor.record(group, time.monotonic()):
            window = f"{self.monitor.window_s:.0f} s"
            line = f"model group {group} fell back {self.monitor.threshold} times within {window}"
            self.alerts.append(("fallback_storm", f"group:{group}", line))
            logger.error("ALERT: %s", line)

    def drain_alerts(self) -> list[tuple[RouterAlert, str, str]]:
        """(kind, subject, message) for each alert since the last call; the worker publishes them."""
        alerts, self.alerts = self.alerts, []
        return alerts


def _request_id(kwargs: dict[str, Any]) -> str | None:
    for holder in (kwargs.get("litellm_params") or {}, kwargs):
        metadata = holder.get("metadata") or {}
        if REQUEST_ID_KEY in metadata:
            return str(metadata[REQUEST_ID_KEY])
    return None
