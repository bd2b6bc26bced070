"""Opening a modal right after the ack, instead of inside it.

A shortcut (or `/jira create`) must open its modal with the payload's trigger_id, which Slack
honours for 3 s. Calling views.open inside the ack made Slack wait for Connect's answer until
Slack had answered Connect (a Web API round trip, 100-300 ms in production). Here the ack
hands the call off and returns: Connect's Slack client (clients/slack_transport) sends it from
its event loop, up to 32 calls at once on kept-alive connections, with slack_sdk's retry
handlers; a call still waiting for a connection when its trigger has expired is dropped
unsent. No thread waits for Slack's answer, so the modal opens well within the trigger's life.
A client that is not Connect's (a plain WebClient) sends it from the work after acks.

What fills the modal in (views.update by the view's external_id) must not overtake views.open:
it is passed as `then` and submitted to the work after acks once Slack has answered.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import aiohttp
import orjson
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from clients.slack_transport import CallExpired, KeptAliveWebClient
from handlers.after_ack import AfterAck

log = logging.getLogger(__name__)
# Views never sent because their trigger expired while Slack calls were backed up: logged
# once a minute at most (bot.logs.NOISY_LOGGERS), with a count of the rest.
EXPIRED_LOG = logging.getLogger("connect.modal_opener.expired")

TRIGGER_LIFE = 3.0  # seconds Slack accepts a trigger_id for


class ModalOpener:
    """`after_ack`: where the work that follows an opened modal (`then`) runs."""

    def __init__(self, after_ack: AfterAck) -> None:
        self._after_ack = after_ack

    def open(
        self,
        client: WebClient,
        trigger_id: str,
        view: dict[str, Any],
        *,
        what: str,
        logger: logging.Logger = log,
        then: Callable[[], object] | None = None,
    ) -> Future[None]:
        """views.open, sent after the caller returns (with its context variables: request id,
        workspace); a failure is logged to `logger` as "could not open the <what> modal".

        `then`: work submitted after the ack (as `what`) once the modal is open. The future
        answered is done once there is nothing more to wait for (opened or not)."""
        try:
            # Encoded here, once: what waits for its turn is one bytes object, not the view's
            # tree of dicts and lists (a form is hundreds), which the garbage collector walks
            # in every full collection while Slack calls back up.
            encoded = orjson.dumps(view)
        except TypeError:  # a view JSON cannot encode: a fault of ours
            logger.exception("opening the %s modal failed", what)
            failed: Future[None] = Future()
            failed.set_result(None)
            return failed
        context = contextvars.copy_context()
        opening = _Opening(client, trigger_id, encoded, what, logger, self._after_ack, then)
        if isinstance(client, KeptAliveWebClient):
            answer = client.call_soon(
                "views.open",
                {"trigger_id": trigger_id, "view": orjson.Fragment(encoded)},
                deadline=opening.started + TRIGGER_LIFE,  # Slack would refuse it after
            )
            answer.add_done_callback(lambda sent: context.run(opening.answered, sent))
        else:  # not Connect's client: sent (and waited for) by a work thread
            self._after_ack.submit(what, context.run, opening.send)
        return opening.done


class _Opening:
    """One views.open: its answer, and `done` once there is nothing more to wait for."""

    def __init__(
        self,
        client: WebClient,
        trigger_id: str,
        view: bytes,  # JSON
        what: str,
        logger: logging.Logger,
        after_ack: AfterAck,
        then: Callable[[], object] | None,
    ) -> None:
        self.client, self.trigger_id, self.view = client, trigger_id, view
        self.what, self.logger = what, logger
        self.after_ack, self.then = after_ack, then
        self.started = time.monotonic()
        self.done: Future[None] = Future()

    def answered(self, sent: Future[Any]) -> None:
        """On the Slack transport's thread: keep it short, and never wait for Slack here. A
        failure is read, not raised: raising it gave it a traceback whose frames held the
        future that holds it, a cycle per failed call for the garbage collector (thousands
        when Slack calls back up)."""
        failure = sent.exception()
        if isinstance(failure, CallExpired):
            # Slack calls backed up past the trigger's life: under a flood, one line a minute.
            EXPIRED_LOG.warning(
                "could not open the %s modal: Slack calls backed up past its trigger's %.0f s",
                self.what,
                TRIGGER_LIFE,
            )
        elif isinstance(failure, SlackApiError):  # Slack refused it (an expired trigger, …)
            error = failure.response.get("error") if failure.response is not None else None
            self.logger.warning("could not open the %s modal: %s", self.what, error or failure)
        elif isinstance(failure, (SlackClientError, OSError, aiohttp.ClientError)):
            self.logger.warning("could not open the %s modal: %r", self.what, failure)
        elif failure is not None:  # a fault of ours
            self.logger.error("opening the %s modal failed", self.what, exc_info=failure)
        else:
            self._opened()
        self.done.set_result(None)

    def send(self) -> None:
        try:
            self.client.views_open(trigger_id=self.trigger_id, view=orjson.loads(self.view))
            self._opened()
        except (SlackClientError, OSError) as error:  # an expired trigger: nothing to show it on
            self.logger.warning("could not open the %s modal: %s", self.what, error)
        except Exception:
            self.logger.exception("opening the %s modal failed", self.what)
        finally:
            self.done.set_result(None)

    def _opened(self) -> None:
        if self.then is not None:
            self.after_ack.submit(self.what, self.then)
