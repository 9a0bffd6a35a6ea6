"""LiteLLM's exceptions translated into our stable error codes (what replies and analytics carry)."""

from __future__ import annotations

from litellm import exceptions as llm_errors

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
    for cls, code in _ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return "provider_error"
