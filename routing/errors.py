"""LiteLLM's exceptions translated into our stable error codes (what replies and analytics carry)."""

from __future__ import annotations

from litellm import exceptions as llm_errors
from litellm.types.router import RouterRateLimitError

# When a provider's 429 names no retry-after, and a cooldown names no time: a guess, not a promise.
DEFAULT_RETRY_AFTER_S = 1.0

# LiteLLM exception class -> our error code; the first match in this order wins (subclasses first).
_ERROR_CODES: tuple[tuple[type[Exception], str], ...] = (
    (llm_errors.ContextWindowExceededError, "context_window_exceeded"),
    (llm_errors.ContentPolicyViolationError, "content_policy"),
    (llm_errors.RateLimitError, "rate_limited"),
    (llm_errors.Timeout, "timeout"),
    (llm_errors.AuthenticationError, "provider_auth"),
    (llm_errors.BadRequestError, "bad_request"),
    (llm_errors.ServiceUnavailableError, "provider_unavailable"),
    (llm_errors.InternalServerError, "provider_unavailable"),
    (llm_errors.APIConnectionError, "provider_unavailable"),
)


def error_code(exc: Exception) -> str:
    if isinstance(exc, RouterRateLimitError):  # every deployment of the group cooling down
        return "rate_limited"
    for cls, code in _ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return "provider_error"


def retry_after_s(exc: Exception) -> float | None:
    """How long until a rate-limited or cooled-down group should have capacity again; None when
    the failure is of another kind (waiting would not help)."""
    if isinstance(exc, RouterRateLimitError):
        return max(float(exc.cooldown_time or 0.0), DEFAULT_RETRY_AFTER_S)
    if isinstance(exc, llm_errors.RateLimitError):
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        try:
            return max(float(header), 0.0) if header is not None else DEFAULT_RETRY_AFTER_S
        except ValueError:  # an HTTP date: rare from LLM providers; wait the default
            return DEFAULT_RETRY_AFTER_S
    return None
