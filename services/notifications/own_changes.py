"""Changes made from Slack through Connect: noted once Jira accepted them, so that their echo
is credited to the person and not told back where they made it (nor DMed to them).

    own = OwnAction.for_command(services, command)
    moved = services.issues.transition(key, status)  # a refusal raises: nothing is noted
    own.accepted(moved.after.key)

A write Jira refused notes nothing, so it can neither keep someone else's change out of a
channel nor put the person's name on it (SPEC §11).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from clients.jira_client import JiraClient, JiraError, JiraUser
from models import ConnectAction, JiraSlackLink
from services.issues.keys import parse_issue_key
from services.jira_changes.detector import Change
from services.unit_of_work import UnitOfWorkFactory

if TYPE_CHECKING:  # connect_services builds on the services, this one among them
    from services.connect_services import ConnectServices

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


class CommandOrigin(Protocol):
    """Where a `/jira` command was typed (handlers.payloads.SlashCommand)."""

    @property
    def team_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...

    @property
    def channel_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OwnAction:
    """Who is changing an issue through Connect, and from where (the channel, and the thread
    when there is one, that is told directly and so hears no echo)."""

    services: ConnectServices
    team_id: str
    slack_user_id: str
    channel_id: str | None
    thread_ts: str | None
    actor_name: str

    @classmethod
    def of(
        cls,
        services: ConnectServices,
        *,
        team_id: str,
        slack_user_id: str,
        channel_id: str | None,
        thread_ts: str | None = None,
    ) -> OwnAction:
        # The name is read before the write, so that the note follows Jira's answer at once.
        name = services.users.display_name_for(team_id, slack_user_id)
        return cls(services, team_id, slack_user_id, channel_id, thread_ts, name)

    @classmethod
    def for_command(cls, services: ConnectServices, command: CommandOrigin) -> OwnAction:
        return cls.of(
            services,
            team_id=command.team_id,
            slack_user_id=command.user_id,
            channel_id=command.channel_id,
        )

    def accepted(self, key: str) -> None:
        """Jira accepted the change of issue `key` (as Jira now names it)."""
        issue_key = parse_issue_key(key)
        if issue_key is None:
            return
        remember_action(
            self.services.uow,
            team_id=self.team_id,
            issue_key=issue_key,
            channel_id=self.channel_id,
            thread_ts=self.thread_ts,
            slack_user_id=self.slack_user_id,
            actor_name=self.actor_name,
        )


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
