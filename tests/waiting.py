"""The one way tests wait: poll a condition until it holds, never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.02


def wait_until(
    condition: Callable[[], T | None], *, timeout: float = 20, what: str = "the condition"
) -> T:
    """Polls until `condition()` is truthy and returns that value.

    The timeout only keeps a broken test from hanging; it is never what a test asserts. `what`
    (a string, or a callable for a description that depends on the state at the end) names
    what was awaited in the failure message.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(POLL_SECONDS)
