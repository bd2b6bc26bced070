"""Work after the ack: one executor that every listener hands its slow part to.

A listener validates its payload once into a typed object, acks, and submits the rest here
(`AfterAck.submit(name, work, *args)`): Jira calls, Slack calls that may wait, database
writes the ack need not wait for. The executor

- runs each task in a copy of the submitter's context variables (request id, workspace:
  bot.context_executor.ContextExecutor);
- bounds the tasks waiting for a thread: past `limit`, `refuse(name)` is True and counts the
  request turned away (connect_work_turned_away_total, by `name`), and the listener answers
  "busy, try again" instead of queueing (handlers.backlog has the texts);
- guards every task: what it raises ends in a log line of the right level with its traceback,
  never in a dead thread or a silent drop:
  - a payload of an unexpected shape the ack did not need to read (pydantic's
    ValidationError of a part validated only now): a WARNING, as for an ack (bot/app.py).
    The payload was validated into a typed object before the ack, so a KeyError, TypeError
    or ValueError here is Connect's own fault and an ERROR like the rest;
  - Slack refusing or not answering a follow-up call (a modal closed before `views.update`,
    an expired response_url, the network): a WARNING;
  - anything else is Connect's fault: an ERROR under the task's name.

Built once, in the composition root (bot.container), and shut down with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from slack_bolt import Ack
from slack_sdk.errors import SlackApiError, SlackClientError

from clients.slack_client import SlackError
from services.connect_services import ConnectServices

log = logging.getLogger("connect.slack")

P = ParamSpec("P")

# Slack refusing or failing a follow-up, through the listener's client or services.slack.
SLACK_UNREACHABLE = (SlackApiError, SlackClientError, SlackError, OSError)


class CountingPool(Protocol):
    """A thread pool that runs tasks in the submitter's context and counts those waiting."""

    @property
    def backlog(self) -> int: ...

    def submit(self, fn: Callable[[], None], /) -> object: ...

    def shutdown(self, wait: bool = True) -> None: ...


class AfterAck:
    def __init__(
        self,
        pool: CountingPool,
        *,
        limit: int | None = None,
        on_turned_away: Callable[[str], None] | None = None,
    ) -> None:
        self.pool = pool
        self.limit = limit
        self._on_turned_away = on_turned_away
        self._counting = threading.Lock()
        self._in_flight = 0

    @property
    def backlog(self) -> int:
        """Tasks submitted that no thread has started yet."""
        return self.pool.backlog

    @property
    def in_flight(self) -> int:
        """Tasks submitted that have not finished."""
        return self._in_flight

    @property
    def busy(self) -> bool:
        return self.limit is not None and self.pool.backlog >= self.limit

    def refuse(self, name: str) -> bool:
        """Whether a request whose work is `name` is to be answered "busy, try again" (the
        backlog is past its bound); counted when it is."""
        if not self.busy:
            return False
        if self._on_turned_away is not None:
            self._on_turned_away(name)
        return True

    def submit(
        self, name: str, work: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Run `work(*args, **kwargs)` on a work thread, guarded; `name` names it in logs."""

        def run() -> None:
            try:
                work(*args, **kwargs)
            except SLACK_UNREACHABLE as error:
                response = getattr(error, "response", None)
                code = response.get("error") if response is not None else None
                if isinstance(error, SlackError):
                    code = error.error
                log.warning(
                    "%s: Slack could not be told (%s)",
                    name,
                    code or type(error).__name__,
                )
            except ValidationError as error:
                log.warning(
                    "%s gave up on a malformed Slack payload: %r", name, error, exc_info=error
                )
            except Exception:
                log.exception("%s failed after the ack", name)
            finally:
                self._count(-1)

        self._count(1)
        try:
            self.pool.submit(run)
        except RuntimeError:  # shut down: Connect is stopping
            self._count(-1)
            log.info("stopping: %s was not started", name)

    def _count(self, change: int) -> None:
        with self._counting:
            self._in_flight += change

    def shutdown(self, wait: bool = True) -> None:
        """Let what was handed over finish (`wait`); nothing new starts."""
        self.pool.shutdown(wait=wait)


Payload = TypeVar("Payload", bound=BaseModel)


def hand_over(
    name: str, model: type[Payload], work: Callable[[Payload, ConnectServices], object]
) -> Callable[[Ack, dict[str, Any], ConnectServices, AfterAck], None]:
    """The listener of "validate once, ack, hand over": the payload read once into `model`
    (bad input fails as pydantic's ValidationError, before the ack), acked, and
    `work(payload, services)` submitted as `name` to the work after acks."""

    def listener(
        ack: Ack, body: dict[str, Any], services: ConnectServices, after_ack: AfterAck
    ) -> None:
        payload = model.model_validate(body)
        ack()
        after_ack.submit(name, work, payload, services)

    listener.__name__ = listener.__qualname__ = f"acknowledge_{name}"
    return listener


def just_ack(ack: Ack) -> None:
    """For what Slack only needs acked (a URL button, which Slack opens itself)."""
    ack()
