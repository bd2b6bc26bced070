"""The one gate every Events API delivery passes: a repeat never makes Connect act twice.

Slack redelivers an event it thinks we missed (`X-Slack-Retry-Num`), and the same `event_id`
can arrive again after a restart. Before any listener runs, an event that will make Connect
act is recorded by its event_id (in processed_deliveries, so it holds across restarts); a
delivery whose id is already recorded is acked and dropped.

Only events that will act are recorded, decided by the same pure checks the listeners use:
a person's message naming allowed issue keys, a link_shared with an allowed Jira link, a
person's app_mention. Plain talk, edits and Connect's own posts are most of the traffic and
cost no write. `app_home_opened` is not recorded either: publishing the home again is
harmless and it is opened often. Recording happens before the work (at most once): if the
work then fails, the retry is dropped too; a missed preview is quieter than a doubled one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from handlers.payloads import AppMention, EventCallback, LinkShared, MessageEvent
from handlers.previews import jira_link_keys, preview_keys
from services.context import ConnectServices
from services.policy import ConnectPolicy
from services.slack_dedupe import SlackEventLog

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.use(drop_repeated_events)


def drop_repeated_events(
    body: dict[str, Any],
    request: BoltRequest,
    context: BoltContext,
    services: ConnectServices,
    next: Callable[[], None],
) -> BoltResponse | None:
    if body.get("type") != "event_callback":
        next()
        return None
    try:
        envelope = EventCallback.model_validate(body)
    except ValidationError:
        next()  # the listener rejects it
        return None
    if not envelope.event_id or not will_act(
        envelope.event, bot_user_id=context.bot_user_id, policy=services.policy
    ):
        next()
        return None
    try:
        first = SlackEventLog(services.uow).first_delivery(envelope.team_id, envelope.event_id)
    except SQLAlchemyError:
        log.exception("could not record Slack event %s; handling it anyway", envelope.event_id)
        first = True
    if first:
        next()
        return None
    retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
    log.info("dropped a repeat of Slack event %s (retry %s)", envelope.event_id, retry)
    return BoltResponse(status=200, body="")


def will_act(event: dict[str, object], *, bot_user_id: str | None, policy: ConnectPolicy) -> bool:
    """Whether a listener will post or unfurl for this event (pure: no Jira, no database)."""
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
        return False  # the listener rejects it
    return False
