"""Turning a linked thread's sync with Jira on and off, and a channel's default for new links
(SPEC §13). Who may: whoever may change the channel's links (LinkService.ensure_can_manage).
Turning it on or off is said in the thread itself, for everyone in it to see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from clients.slack_client import SlackClient, SlackError
from models import JiraSlackLink
from services.channel_settings import ChannelManagers
from services.errors import ConnectError
from services.unit_of_work import UnitOfWorkFactory


class NoLinkHere(ConnectError):
    def __init__(self, key: str) -> None:
        super().__init__(f"This thread is no longer linked to *{key}*.")


@dataclass(frozen=True, slots=True)
class SyncChanged:
    issue_key: str
    channel_id: str
    thread_ts: str
    on: bool
    changed: bool  # False: it already was so


# SPEC §4's notice for private conversations, for what a synced thread sends.
PRIVATE_SYNC_NOTICE = (
    ":lock: This is a private conversation: the replies and files sent to Jira will be "
    "visible to everyone who can see the issue."
)


def sync_announcement(user_id: str, key: str, on: bool, *, private: bool = False) -> str:
    if on:
        text = (
            f":arrows_counterclockwise: <@{user_id}> turned on sync with *{key}*: replies in "
            "this thread now become Jira comments (edits and deletions follow), and Jira "
            "comments come back here."
        )
        return f"{text}\n{PRIVATE_SYNC_NOTICE}" if private else text
    return (
        f":no_entry_sign: <@{user_id}> stopped syncing this thread with *{key}*: new replies "
        "stay in Slack. Jira's updates still come here."
    )


class SyncSwitch:
    def __init__(
        self, uow: UnitOfWorkFactory, managers: ChannelManagers, slack: SlackClient
    ) -> None:
        self.uow = uow
        self.managers = managers
        self.slack = slack

    def set_thread(
        self, team_id: str, channel_id: str, thread_ts: str, user_id: str, key: str, on: bool
    ) -> SyncChanged:
        """Sync the replies of the thread linked to `key` (or stop); said in the thread."""
        self.managers.ensure_can_manage(channel_id, user_id)
        with self.uow() as work:
            link = work.session.scalars(
                select(JiraSlackLink)
                .where(
                    JiraSlackLink.team_id == team_id,
                    JiraSlackLink.channel_id == channel_id,
                    JiraSlackLink.issue_key == key.upper(),
                    JiraSlackLink.message_ts != "",
                    JiraSlackLink.retired_at.is_(None),
                    or_(
                        JiraSlackLink.thread_ts == thread_ts,
                        JiraSlackLink.thread_ts.is_(None) & (JiraSlackLink.message_ts == thread_ts),
                    ),
                )
                .order_by(JiraSlackLink.id)
                .limit(1)
            ).first()
            if link is None:
                raise NoLinkHere(key.upper())
            changed = bool(link.sync_replies) != on
            link.sync_replies = on
            issue_key = link.issue_key
            work.commit()
        if changed:
            self.announce(channel_id, thread_ts, user_id, issue_key, on)
        return SyncChanged(issue_key, channel_id, thread_ts, on, changed)

    def announce(self, channel_id: str, thread_ts: str, user_id: str, key: str, on: bool) -> None:
        try:
            private = on and self.slack.channel_info(channel_id).is_private
        except SlackError:
            private = True  # unknown: say it rather than not
        text = sync_announcement(user_id, key, on, private=private)
        try:
            self.slack.post_message(channel_id, text=text, thread_ts=thread_ts)
        except SlackError as error:  # the switch is set; only the notice is missing
            raise ConnectError(
                f"Sync is {'on' if on else 'off'}, but I could not say so in the thread "
                f"({error.error})."
            ) from error
