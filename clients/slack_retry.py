"""How Connect retries Slack calls: slack_sdk retry handlers, bounded by what a caller can wait."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler


def retry_handlers(max_retries: int, max_retry_wait: float) -> list[RetryHandler]:
    """Connection errors, 429 (honouring Retry-After up to `max_retry_wait` s) and 5xx."""
    return [
        ConnectionErrorRetryHandler(max_retry_count=max_retries),
        BoundedRateLimitRetryHandler(max_retries, max_retry_wait),
        AnyServerErrorRetryHandler(max_retry_count=max_retries),
    ]


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Retries a 429 only when Slack's Retry-After fits in what a caller can wait."""

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        retry_after = retry_after_seconds({k: v[0] for k, v in response.headers.items() if v})
        return retry_after is None or retry_after <= self.max_wait


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's handler covers 500 and 503; a proxy in front of Slack may add 502 and 504."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


def retry_after_seconds(headers: Mapping[str, Any]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError, IndexError):
                return None
    return None
