"""The one gate every Events API delivery passes: a repeat never makes Connect act twice.

Slack redelivers an event it thinks we missed (`X-Slack-Retry-Num`), and the same `event_id`
can arrive again after a restart. An event that will make Connect act is recorded by its
event_id (in processed_deliveries, so it holds across restarts); a delivery whose id is
already recorded does nothing more than its ack.

Only events that will act are recorded, decided by the same pure checks the listeners use:
a person's message naming allowed issue keys, a link_shared with an allowed Jira link, a
person's app_mention. Plain talk, edits and Connect's own posts are most of the traffic and
cost no write. `app_home_opened` is not recorded either: publishing the home again is
harmless and it is opened often.

The same checks spare plain talk the lazy listener altogether: a message with no key that
Connect would preview queues no work (handlers.backlog.skip_lazy).

The record is written after the ack, by the thread that does the work: the middleware hangs
a `FirstDelivery` gate on the request's context (`LAZY_GATE`), and the lazy listener runs only
if the gate lets it (bot.lazy_requests asks it in the executor thread), so the ack waits on no
database write. Recording still happens before the work (at most once): if the work then
fails, the retry is dropped too; a missed preview is quieter than a doubled one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from sqlalchemy.exc import SQLAlchemyError

from handlers.backlog import BUSY, LAZY_SKIP, NOTHING_TO_DO, backed_up, skip_lazy
from handlers.payloads import AppMention, EventCallback, LinkShared, MessageEvent
from handlers.previews import jira_link_keys, preview_keys
from services.context import ConnectServices
from services.policy import ConnectPolicy
from services.slack_dedupe import SlackEventLog

log = logging.getLogger(__name__)

# The context key of a callable that a lazy listener's thread asks before it runs the listener
# (bot.lazy_requests): False drops the work.
LAZY_GATE = "lazy_gate"
# Events whose listeners only preview or unfurl: not run for talk with no key in it, nor
# while the work after acks is backed up (handlers.backlog).
PASSING_TALK = frozenset({"message", "link_shared"})


def register(app: App) -> None:
    app.use(DropRepeatedEvents())


class DropRepeatedEvents(Middleware):
    """`drop_repeated_events` as a class-based middleware: Bolt calls it without building the
    thirty-odd listener arguments a function middleware is offered on every request."""

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        context = req.context
        drop_repeated_events(req.body, req, context, context["services"], next)
        return resp


def drop_repeated_events(
    body: dict[str, Any],
    request: BoltRequest,
    context: BoltContext,
    services: ConnectServices,
    next: Callable[[], object],
) -> BoltResponse | None:
    if body.get("type") == "event_callback":
        try:
            envelope = EventCallback.model_validate(body)
        except ValidationError:
            envelope = None  # the listener rejects it
        acts = (
            None
            if envelope is None
            else acting(envelope.event, bot_user_id=context.bot_user_id, policy=services.policy)
        )
        if envelope is not None and envelope.event.get("type") in PASSING_TALK:
            if acts is False:  # most traffic: nothing to hand over, nothing queued
                skip_lazy(context, NOTHING_TO_DO)
            elif acts and backed_up(context):
                skip_lazy(context, BUSY)
        if envelope is not None and envelope.event_id and acts and LAZY_SKIP not in context:
            retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
            context[LAZY_GATE] = FirstDelivery(
                SlackEventLog(services.uow), envelope.team_id, envelope.event_id, retry
            )
    next()
    return None


class FirstDelivery:
    """Whether this delivery is the event's first: asked by each of its lazy listeners, in
    their thread, and recorded by the first ask (the answer is kept for the others)."""

    def __init__(self, events: SlackEventLog, team_id: str, event_id: str, retry: str) -> None:
        self.events = events
        self.team_id = team_id
        self.event_id = event_id
        self.retry = retry
        self._lock = threading.Lock()
        self._first: bool | None = None

    def __call__(self) -> bool:
        with self._lock:
            if self._first is None:
                self._first = self._record()
            return self._first

    def _record(self) -> bool:
        try:
            first = self.events.first_delivery(self.team_id, self.event_id)
        except SQLAlchemyError:
            log.exception("could not record Slack event %s; handling it anyway", self.event_id)
            return True
        if not first:
            log.info("dropped a repeat of Slack event %s (retry %s)", self.event_id, self.retry)
        return first

    def __deepcopy__(self, memo: dict[int, object]) -> FirstDelivery:
        return self  # Bolt copies the context for each lazy listener: they share one answer


def will_act(event: dict[str, object], *, bot_user_id: str | None, policy: ConnectPolicy) -> bool:
    """Whether a listener will post or unfurl for this event (pure: no Jira, no database)."""
    return acting(event, bot_user_id=bot_user_id, policy=policy) is True


def acting(
    event: dict[str, object], *, bot_user_id: str | None, policy: ConnectPolicy
) -> bool | None:
    """`will_act`, with None for an event its listener will reject (and log) as malformed."""
    kind = event.get("type")
    try:
        if kind == "message":
            message = MessageEvent.model_validate(event)
            return bool(preview_keys(message, bot_user_id=bot_user_id, policy=policy))
        if kind == "link_shared":
            shared = LinkShared.model_validate(event)
            return bool(jira_link_keys((link.url for link in shared.links), policy=policy))
        if kind == "app_mention":
            mention = AppMention.model_validate(event)
            return bool(mention.user) and not mention.bot_id
    except ValidationError:
        return None
    return False
