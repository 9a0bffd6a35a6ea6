"""Retrying and polling, one way everywhere (tenacity): keep trying what must succeed eventually,
wait for a condition with a deadline."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_exponential,
    wait_fixed,
)

T = TypeVar("T")
MAX_PAUSE_S = 5.0


async def until_done(
    call: Callable[[], Awaitable[T]],
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    what: str,
    logger: logging.Logger,
    give_up_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Call until it succeeds, pausing 0.2 s, 0.4 s, ... up to 5 s between failures of `retry_on`.

    For work that cannot progress without an outside system (Kafka, ClickHouse) and must not be
    dropped: the caller holds its offsets meanwhile, so Kafka keeps the backlog."""

    def log_retry(state: RetryCallState) -> None:
        pause = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        logger.warning("%s failed (%s); retrying in %.1f s", what, error, pause)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(retry_on) & retry_if_not_exception_type(give_up_on),
        wait=wait_exponential(multiplier=0.1, min=0.2, max=MAX_PAUSE_S),
        before_sleep=log_retry,
        reraise=True,
    )
    result: T = await retrying(call)
    return result


async def poll_until(
    check: Callable[[], Awaitable[T | None]], *, timeout_s: float, interval_s: float = 0.1, what: str
) -> T:
    """The first truthy value `check` returns; TimeoutError naming `what` after `timeout_s`."""
    retrying = AsyncRetrying(
        retry=retry_if_result(lambda value: not value),
        stop=stop_after_delay(timeout_s),
        wait=wait_fixed(interval_s),
        retry_error_callback=lambda _state: None,
    )
    value: T | None = await retrying(check)
    if not value:
        raise TimeoutError(f"{what} within {timeout_s:.0f} s")
    return value
