"""Opening a modal right after the ack, instead of inside it.

A shortcut (or `/jira create`) must open its modal with the payload's trigger_id, which Slack
honours for 3 s. Calling views.open inside the ack made Slack wait for Connect's answer until
Slack had answered Connect (a Web API round trip, 100-300 ms in production). Here the ack
hands the call to a few threads of the opener's own, never busy with slow work (Jira calls
run on the lazy listeners' executor), so the modal still opens well within the trigger's life.

The lazy listener that fills the modal in (views.update by the view's external_id) waits,
through `opened`, until the views.open call has been made: an update must not overtake it.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

log = logging.getLogger(__name__)

OPENER_THREADS = 16  # as many as the web server's: acks never queue views.open behind others
TRIGGER_LIFE = 3.0  # seconds Slack accepts a trigger_id for
_REMEMBERED = 1024  # pending opens kept for their lazy listener (each is taken once)


class ModalOpener:
    def __init__(self, threads: int = OPENER_THREADS) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="connect-modal")
        self._lock = threading.Lock()
        self._opening: OrderedDict[str, Future[None]] = OrderedDict()

    def open(
        self,
        client: WebClient,
        trigger_id: str,
        view: dict[str, Any],
        *,
        what: str,
        logger: logging.Logger = log,
    ) -> None:
        """views.open on the opener's threads (with the caller's context variables: request
        id, workspace); a failure is logged to `logger` as "could not open the <what> modal"."""
        context = contextvars.copy_context()
        future = self._executor.submit(context.run, _open, client, trigger_id, view, what, logger)
        external_id = view.get("external_id")
        if external_id:
            with self._lock:
                self._opening[external_id] = future
                while len(self._opening) > _REMEMBERED:
                    self._opening.popitem(last=False)

    def opened(self, external_id: str, timeout: float = TRIGGER_LIFE) -> None:
        """Return once views.open for this external_id has been answered (or has failed, or
        `timeout` passed): what the lazy listener calls before views.update."""
        with self._lock:
            future = self._opening.pop(external_id, None)
        if future is None:
            return
        try:
            future.result(timeout)
        except FutureTimeout:
            log.info("views.open for %s is still waiting after %.0f s", external_id, timeout)


def _open(
    client: WebClient, trigger_id: str, view: dict[str, Any], what: str, logger: logging.Logger
) -> None:
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except (SlackClientError, OSError) as error:  # an expired trigger: nothing to show it on
        logger.warning("could not open the %s modal: %s", what, error)
    except Exception:
        logger.exception("opening the %s modal failed", what)


# One per process, shared by every app (its threads start when first used).
OPENER = ModalOpener()
