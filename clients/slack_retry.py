"""How Connect retries Slack calls: slack_sdk's async retry handlers (the calls go through
AsyncWebClient, clients/slack_transport), bounded by what a caller can wait.

`chat.postMessage` is not idempotent: when Slack (or a proxy in front of it) fails with a 5xx,
or the connection drops after the request went out, the message may have been posted all the
same. Those are not retried blindly here (a second post); the caller sees SlackUnavailable and
the outbox looks the message up by its idempotency key before it sends again. A 429 and a
connection that could not be made say that nothing was posted, and are retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import ClientConnectorError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)


def retry_handlers(max_retries: int, max_retry_wait: float) -> list[AsyncRetryHandler]:
    """Connection errors, 429 (honouring Retry-After up to `max_retry_wait` s) and 5xx."""
    return [
        SafeConnectionErrorRetryHandler(max_retry_count=max_retries),
        BoundedRateLimitRetryHandler(max_retries, max_retry_wait),
        AnyServerErrorRetryHandler(max_retry_count=max_retries),
    ]


NOT_IDEMPOTENT = frozenset({"chat.postMessage"})


def _not_idempotent(request: HttpRequest) -> bool:
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] in NOT_IDEMPOTENT


class SafeConnectionErrorRetryHandler(AsyncConnectionErrorRetryHandler):
    """Connection errors; for a post, only those where the request never reached Slack (no
    connection could be made: refused, or the name did not resolve)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        ):
            return False
        return not _not_idempotent(request) or isinstance(error, ClientConnectorError)


class BoundedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Retries a 429 only when Slack's Retry-After fits in what a caller can wait."""

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    async def _can_retry_async(
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


class AnyServerErrorRetryHandler(AsyncServerErrorRetryHandler):
    """slack_sdk's handler covers 500 and 503; a proxy in front of Slack may add 502 and 504.
    Never for a post: a 5xx does not say that the message was not posted."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _not_idempotent(request):
            return False  # it may have been posted: the outbox looks before it sends again
        return response is not None and response.status_code in (500, 502, 503, 504)


def retry_after_seconds(headers: Mapping[str, Any]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError, IndexError):
                return None
    return None
