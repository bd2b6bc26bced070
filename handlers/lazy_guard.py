"""Work after the ack (lazy listeners) ends in a log line of the right level, never a crash.

Bolt runs a lazy listener on Connect's executor and, when it raises, logs only
"Failed to run an internal function (…)" at ERROR, without a traceback. The payload of a lazy
listener is the one its ack already accepted, so what can still go wrong there is:

- a payload of an unexpected shape that the ack did not need to read (pydantic's
  ValidationError, a KeyError, …): a WARNING with the traceback, as for an ack (bot/app.py);
- Slack refusing or not answering a follow-up call: the modal was closed before
  `views.update` (`not_found`), the response_url expired, the network failed: a WARNING;
- anything else is Connect's fault: logged at ERROR with its traceback, under the listener's
  name, so it can be found and fixed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from slack_bolt import App
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger("connect.slack")

# The same classification as the ack's error handler (bot.app.BAD_INPUT_ERRORS).
BAD_INPUT_ERRORS = (ValidationError, KeyError, TypeError, ValueError, AttributeError, IndexError)
SLACK_UNREACHABLE = (SlackApiError, SlackClientError, OSError)


def guard_lazy_listeners(app: App) -> None:
    """Wrap the lazy functions of every listener registered on `app` so far."""
    for listener in app._listeners:  # Bolt has no public hook around lazy functions
        lazy = getattr(listener, "lazy_functions", None)
        if lazy:
            listener.lazy_functions = [guarded(function) for function in lazy]


def guarded(function: Callable[..., None]) -> Callable[..., None]:
    """`function`, logging what it raises instead of raising it (Bolt reads the arguments it
    asks for through `__wrapped__`, so it still gets exactly those)."""
    if getattr(function, "__connect_guarded__", False):
        return function
    name = getattr(function, "__qualname__", repr(function))

    @functools.wraps(function)
    def run(**kwargs: Any) -> None:
        try:
            function(**kwargs)
        except SLACK_UNREACHABLE as error:
            slack_error = getattr(error, "response", None)
            code = slack_error.get("error") if slack_error is not None else None
            log.warning("%s: Slack could not be told (%s)", name, code or type(error).__name__)
        except BAD_INPUT_ERRORS as error:
            log.warning("%s gave up on a malformed Slack payload: %r", name, error, exc_info=error)
        except Exception:
            log.exception("%s failed after the ack", name)

    run.__connect_guarded__ = True  # type: ignore[attr-defined]
    return run
