"""Tying issues to Slack channels and messages (SPEC §4 "Creating or linking from a message")."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clients.jira_client import JiraClient, JiraIssue
from clients.slack_client import SlackClient, SlackNotInChannel, SlackUnavailable
from models import ChannelSettings, JiraSlackLink, utcnow
from services.errors import ConnectError, NotPermitted, SlackDown, jira_errors
from services.issues.keys import project_of
from services.issues.service import IssueService
from services.jira_changes.known_issues import seed_known_issue
from services.policy import ConnectPolicy
from services.unit_of_work import UnitOfWorkFactory

INVITE_FIRST = "I'm not in this channel yet: invite me with `/invite @Connect`, then try again."


class BotNotInChannel(ConnectError):
    def __init__(self) -> None:
        super().__init__(INVITE_FIRST)


@dataclass(frozen=True, slots=True)
class LinkView:
    issue_id: str
    issue_key: str
    channel_id: str
    message_ts: str
    thread_ts: str | None
    permalink: str | None
    created_by: str | None
    created_at: datetime
    sync_replies: bool = False

    @property
    def is_channel_link(self) -> bool:
        return self.message_ts == ""


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    issue: JiraIssue
    link: LinkView
    created: bool


@dataclass(frozen=True, slots=True)
class MessageRef:
    team_id: str
    channel_id: str
    message_ts: str
    thread_ts: str | None = None


def remote_link_global_id(permalink: str) -> str:
    """Stable per Slack message, so linking it again updates Jira's link instead of adding one."""
    return "connect-slack:" + hashlib.sha256(permalink.encode()).hexdigest()[:40]


class LinkService:
    def __init__(
        self, uow: UnitOfWorkFactory, jira: JiraClient, slack: SlackClient, policy: ConnectPolicy
    ) -> None:
        self.uow = uow
        self.jira = jira
        self.slack = slack
        self.policy = policy
        self.issues = IssueService(jira, policy)

    # -- who may ----------------------------------------------------------------------------

    def ensure_can_manage(self, channel_id: str, user_id: str) -> None:
        """Members of the channel and CONNECT_ADMINS manage its links, subscriptions, settings
        (only CONNECT_ADMINS, with CONNECT_CHANNEL_MANAGERS=admins)."""
        if self.policy.is_admin(user_id):
            return
        if self.policy.channel_managers_admins_only:
            raise NotPermitted(
                "Only Connect admins can change what this channel follows; ask one of them."
            )
        try:
            member = self.slack.is_member(channel_id, user_id)
        except SlackNotInChannel:
            raise BotNotInChannel() from None
        except SlackUnavailable:
            raise SlackDown() from None
        if not member:
            raise NotPermitted(
                "Only members of this channel (or Connect admins) can change what it follows."
            )

    def ensure_bot_in_channel(self, channel_id: str) -> None:
        try:
            channel = self.slack.channel_info(channel_id)
        except SlackNotInChannel:
            raise BotNotInChannel() from None
        except SlackUnavailable:
            raise SlackDown() from None
        if not channel.is_member:
            raise BotNotInChannel()

    # -- channel links ------------------------------------------------------------------------

    def link_channel(self, team_id: str, channel_id: str, user_id: str, key: str) -> LinkOutcome:
        self.ensure_bot_in_channel(channel_id)
        self.ensure_can_manage(channel_id, user_id)
        issue = self.issues.get(key)
        view, created = self._record(team_id, issue, channel_id, "", None, user_id, None)
        return LinkOutcome(issue, view, created)

    def unlink_channel(self, team_id: str, channel_id: str, user_id: str, key: str) -> list[str]:
        """Retire every link of the issue in this channel; the keys retired (empty if none)."""
        self.ensure_can_manage(channel_id, user_id)
        wanted = key.strip().upper()
        with self.uow() as work:
            links = work.session.scalars(
                _active(team_id).where(
                    JiraSlackLink.channel_id == channel_id, JiraSlackLink.issue_key == wanted
                )
            ).all()
            for link in links:
                link.retired_at = utcnow()
            work.commit()
        return [link.issue_key for link in links]

    def channel_links(self, team_id: str, channel_id: str) -> list[LinkView]:
        with self.uow() as work:
            links = work.session.scalars(
                _active(team_id)
                .where(JiraSlackLink.channel_id == channel_id)
                .order_by(JiraSlackLink.created_at)
            ).all()
            # Links of issues outside JIRA_PROJECTS are retired; none is ever listed meanwhile.
            return [
                _view(link)
                for link in links
                if self.policy.project_allowed(project_of(link.issue_key))
            ]

    # -- message links ------------------------------------------------------------------------

    def link_message(
        self,
        message: MessageRef,
        user_id: str,
        key: str,
        *,
        issue: JiraIssue | None = None,
        sync: bool | None = None,
    ) -> LinkOutcome:
        """Record the link, add Jira's remote link (once), and tell the thread (once); only
        where the bot is a member (else BotNotInChannel, and nothing is linked).

        `sync`: the thread's replies become Jira comments (SPEC §13); None = the channel's
        default, for a new link."""
        issue = issue or self.issues.get(key)
        try:
            permalink = self.slack.get_permalink(message.channel_id, message.message_ts)
            channel = self.slack.channel_info(message.channel_id)
        except SlackNotInChannel:
            raise BotNotInChannel() from None
        except SlackUnavailable:
            raise SlackDown() from None
        if not channel.is_member:  # a public channel: readable, but no thread reply from the bot
            raise BotNotInChannel()
        view, created = self._record(
            message.team_id,
            issue,
            message.channel_id,
            message.message_ts,
            message.thread_ts,
            user_id,
            permalink,
            sync=sync,
        )
        # A private channel's name stays out of Jira, like its messages stay out of other places.
        where = "a private Slack conversation" if channel.is_private else f"#{channel.name}"
        with jira_errors(issue.key):
            self.jira.upsert_remote_link(
                issue.key,
                global_id=remote_link_global_id(permalink),
                url=permalink,
                title=f"Slack: message in {where}",
                summary="Linked from Slack by Connect",
            )
        return LinkOutcome(issue, view, created)

    def _record(
        self,
        team_id: str,
        issue: JiraIssue,
        channel_id: str,
        message_ts: str,
        thread_ts: str | None,
        user_id: str,
        permalink: str | None,
        *,
        sync: bool | None = False,
    ) -> tuple[LinkView, bool]:
        """Insert or revive the row; a concurrent twin losing the race reads the winner's row."""
        for _attempt in range(2):
            try:
                with self.uow() as work:
                    link, created = _activate(
                        work.session,
                        team_id,
                        issue,
                        channel_id,
                        message_ts,
                        thread_ts,
                        user_id,
                        permalink=permalink,
                    )
                    if created and message_ts:
                        link.sync_replies = (
                            _channel_syncs(work.session, team_id, channel_id)
                            if sync is None
                            else sync
                        )
                    elif sync:
                        link.sync_replies = True
                    view = _view(link)
                    seed_known_issue(work.session, team_id, issue)
                    work.commit()
                return view, created
            except IntegrityError:
                continue
        raise RuntimeError("link row kept conflicting")  # pragma: no cover - two races in a row


def _active(team_id: str) -> Select[JiraSlackLink]:
    return select(JiraSlackLink).where(
        JiraSlackLink.team_id == team_id, JiraSlackLink.retired_at.is_(None)
    )


def _activate(
    session: Session,
    team_id: str,
    issue: JiraIssue,
    channel_id: str,
    message_ts: str,
    thread_ts: str | None,
    user_id: str,
    *,
    permalink: str | None = None,
) -> tuple[JiraSlackLink, bool]:
    """The link row, created or revived; False when it was already active."""
    link = session.scalars(
        select(JiraSlackLink).where(
            JiraSlackLink.team_id == team_id,
            JiraSlackLink.issue_id == issue.id,
            JiraSlackLink.channel_id == channel_id,
            JiraSlackLink.message_ts == message_ts,
        )
    ).one_or_none()
    if link is not None and link.retired_at is None:
        return link, False
    if link is None:
        link = JiraSlackLink(
            team_id=team_id, issue_id=issue.id, channel_id=channel_id, message_ts=message_ts
        )
        session.add(link)
    link.issue_key = issue.key
    link.thread_ts = thread_ts
    link.permalink = permalink
    link.created_by = user_id
    link.created_at = utcnow()
    link.retired_at = None
    session.flush()
    return link, True


def _channel_syncs(session: Session, team_id: str, channel_id: str) -> bool:
    """The channel's default for new links (`/jira settings sync on|off`)."""
    default = session.scalars(
        select(ChannelSettings.sync_default).where(
            ChannelSettings.team_id == team_id, ChannelSettings.channel_id == channel_id
        )
    ).one_or_none()
    return bool(default)


def _view(link: JiraSlackLink) -> LinkView:
    return LinkView(
        issue_id=link.issue_id,
        issue_key=link.issue_key,
        channel_id=link.channel_id,
        message_ts=link.message_ts,
        thread_ts=link.thread_ts,
        permalink=link.permalink,
        created_by=link.created_by,
        created_at=link.created_at,
        sync_replies=bool(link.sync_replies),
    )
