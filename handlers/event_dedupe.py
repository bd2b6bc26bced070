"""Every Events API delivery that makes Connect act is acted on once, however often it comes.

Slack redelivers an event it thinks we missed (`X-Slack-Retry-Num`), and the same `event_id`
can arrive again after a restart. An event that will make Connect act is recorded by its
event_id (in processed_deliveries, so it holds across restarts); a delivery whose id is
already recorded does nothing more than its ack.

Only events that will act are recorded, decided by pure checks in their listeners (a person's
message naming allowed issue keys, a link_shared with an allowed Jira link, a person's
app_mention): plain talk, edits and Connect's own posts are most of the traffic, queue no
work and cost no write. `app_home_opened` is not recorded either: publishing the home again
is harmless and it is opened often.

The record is written after the ack, by the thread that does the work (`hand_over`), so the
ack waits on no database write. Recording still happens before the work (at most once): if
the work then fails, the retry is dropped too; a missed preview is quieter than a doubled one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from slack_bolt import BoltRequest
from sqlalchemy.exc import SQLAlchemyError

from handlers.after_ack import AfterAck
from handlers.payloads import EventCallback
from services.connect_services import ConnectServices
from services.slack_dedupe import SlackEventLog

log = logging.getLogger(__name__)
# Where a malformed payload is logged, as for every listener (handlers.after_ack).
SLACK_LOG = logging.getLogger("connect.slack")

E = TypeVar("E", bound=BaseModel)


def read_event(body: dict[str, Any], shape: type[E]) -> tuple[EventCallback, E] | None:
    """The envelope and its event, validated once; None (and a WARNING with the traceback) for
    an event of an unexpected shape. Bolt has acked an event before its listener runs, so a
    malformed one is not answered 400: Slack would only send it again."""
    try:
        envelope = EventCallback.model_validate(body)
        return envelope, shape.model_validate(envelope.event)
    except ValidationError as error:
        SLACK_LOG.warning("ignored a malformed %s event: %r", shape.__name__, error, exc_info=error)
        return None


def hand_over(
    after_ack: AfterAck,
    name: str,
    request: BoltRequest,
    envelope: EventCallback,
    services: ConnectServices,
    work: Callable[..., object],
    *args: Any,
) -> None:
    """Submit `work(*args)` to run after the ack if this delivery is the event's first."""
    first: FirstDelivery | None = None
    if envelope.event_id:
        retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
        first = FirstDelivery(
            SlackEventLog(services.uow), envelope.team_id, envelope.event_id, retry
        )
    after_ack.submit(name, _once, first, work, *args)


def _once(first: FirstDelivery | None, work: Callable[..., object], *args: Any) -> None:
    if first is None or first():
        work(*args)


class FirstDelivery:
    """Whether this delivery is the event's first, recorded when asked (in the work thread)."""

    def __init__(self, events: SlackEventLog, team_id: str, event_id: str, retry: str) -> None:
        self.events = events
        self.team_id = team_id
        self.event_id = event_id
        self.retry = retry

    def __call__(self) -> bool:
        try:
            first = self.events.first_delivery(self.team_id, self.event_id)
        except SQLAlchemyError:
            log.exception("could not record Slack event %s; handling it anyway", self.event_id)
            return True
        if not first:
            log.info("dropped a repeat of Slack event %s (retry %s)", self.event_id, self.retry)
        return first
