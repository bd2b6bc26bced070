"""Changes made from Slack through Connect: noted once Jira accepted them, so that their echo
is credited to the person and not told back where they made it (nor DMed to them)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from clients.jira_client import JiraClient, JiraError, JiraUser
from models import ConnectAction, JiraSlackLink
from services.jira_changes.detector import Change
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

OWN_ACTION_WINDOW = timedelta(minutes=10)


class ConnectAccount:
    """Connect's own Jira account id, asked once (None while Jira cannot say)."""

    def __init__(self, jira: JiraClient) -> None:
        self._jira = jira
        self._account_id: str | None = None

    def __call__(self) -> str | None:
        if self._account_id is None:
            try:
                self._account_id = self._jira.myself().account_id
            except JiraError as exc:
                log.warning("could not ask Jira for Connect's own account: %s", exc.message)
        return self._account_id


def remember_action(
    uow: UnitOfWorkFactory,
    *,
    team_id: str,
    issue_key: str,
    channel_id: str | None,
    thread_ts: str | None,
    slack_user_id: str,
    actor_name: str,
) -> None:
    """After Jira accepted a change Connect made for someone: its echo is theirs, and not told
    back where they made it. Never before: a refused write must not claim or hide anything.

    A failure to note it is logged, not raised: the change is made, and an echo is all it costs.
    """
    try:
        with uow() as work:
            work.session.add(
                ConnectAction(
                    team_id=team_id,
                    issue_key=issue_key.upper(),
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    slack_user_id=slack_user_id,
                    actor_name=actor_name[:255],
                )
            )
            work.commit()
    except SQLAlchemyError:
        log.exception("could not note the change of %s made from Slack", issue_key)


def own_action(
    session: Session,
    team_id: str,
    issue_key: str,
    actor: JiraUser | None,
    connect_account: str | None,
    now: datetime,
) -> ConnectAction | None:
    """The note of the person who made this change from Slack, when Connect's own account
    made it (bot mode) within the last few minutes; else None."""
    if actor is None or connect_account is None or actor.account_id != connect_account:
        return None
    return session.scalars(
        select(ConnectAction)
        .where(
            ConnectAction.team_id == team_id,
            ConnectAction.issue_key == issue_key,
            ConnectAction.created_at >= now - OWN_ACTION_WINDOW,
        )
        .order_by(ConnectAction.created_at.desc())
        .limit(1)
    ).first()


def actor_label(change: Change, own: ConnectAction | None) -> str:
    if own is not None:
        return f"{own.actor_name} (via Slack)"
    return change.actor.display_name if change.actor else "Someone"


def is_origin(link: JiraSlackLink, own: ConnectAction) -> bool:
    """The link is where the person made the change: they already know."""
    if link.channel_id != own.channel_id:
        return False
    if own.thread_ts is None:
        return link.is_channel_link
    return link.reply_thread_ts == own.thread_ts
