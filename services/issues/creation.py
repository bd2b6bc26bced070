"""Creating an issue from Slack once its form was accepted (the form itself: `create`).

The description gains the thread when asked (SPEC §13) and a line naming the source message;
Jira creates the issue (as the person in JIRA_AUTH_MODE=user) and the change is noted as
theirs; the message's files are copied to it; and the person is told where they acted
(SPEC §4): in the message's thread (the message is linked to the issue), through the command's
response_url, or else in a DM. Also what a form opened on a message is prefilled with.

Slack is reached through services.slack only; the card is drawn by the handlers' renderer,
handed in as `IssueCards`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from clients.jira_client import JiraIssue
from clients.slack_client import SlackClient, SlackNotInChannel
from services.commands import mentioned_users
from services.connect_services import ConnectServices
from services.errors import ConnectError
from services.issues.create import IssueDraft
from services.issues.links import BotNotInChannel, MessageRef
from services.markup import escape_mrkdwn, mrkdwn_to_wiki, slack_to_plain_text
from services.notifications.own_changes import OwnAction
from services.thread_sync.attachments import attach_source_files
from services.thread_sync.capture import conversation_text

log = logging.getLogger(__name__)

Block = dict[str, Any]


class Origin(Protocol):
    """Where the person asked for the issue (handlers.create_views.CreateContext)."""

    @property
    def source(self) -> str: ...  # command | global | message

    @property
    def team_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...

    @property
    def channel_id(self) -> str | None: ...

    @property
    def message_ts(self) -> str | None: ...

    @property
    def thread_ts(self) -> str | None: ...

    @property
    def message_author(self) -> str | None: ...

    @property
    def response_url(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class IssueCards:
    """How an issue is shown in Slack (handlers.cards, handlers.thread_sync)."""

    card: Callable[[JiraIssue], list[Block]]  # the issue card's blocks
    text: Callable[[JiraIssue], str]  # the issue in one line of mrkdwn
    sync_switch: Callable[[str, bool], Block]  # the thread's "sync replies" switch


def from_message(origin: Origin) -> bool:
    return origin.source == "message" and bool(origin.channel_id and origin.message_ts)


class IssueCreation:
    """`services`: Connect's own (its Jira account copies files and reads names); the person's
    copy (`ConnectServices.as_person`) is handed to the steps that act for them."""

    def __init__(self, services: ConnectServices, cards: IssueCards) -> None:
        self.services = services
        self.cards = cards

    def with_conversation(self, origin: Origin, typed: str) -> str:
        """The whole thread of the source message, after what the person wrote above it
        unless that is only the first message."""
        if not origin.channel_id or not origin.message_ts:
            return typed
        thread = origin.thread_ts or origin.message_ts
        conversation = conversation_text(
            self.services.slack,
            self.services.users.display_name_for,
            origin.team_id,
            origin.channel_id,
            thread,
        )
        typed = typed.strip()
        if typed and typed not in conversation:
            return f"{typed}\n\n----\n{conversation}"
        return conversation

    def create(self, acting: ConnectServices, origin: Origin, draft: IssueDraft) -> JiraIssue:
        """Create it as `acting`, naming where it came from; Jira's refusals raise (and note
        nothing)."""
        if from_message(origin):
            draft = replace(
                draft, description=f"{draft.description}\n\n----\n{self._source(origin)}"
            )
        own = self._own_action(origin)
        credit = "" if self.services.user_mode else f"_Created by {own.actor_name} via Slack_"
        issue = acting.create_issue.create(draft, credit=credit)
        own.accepted(issue.key)
        return issue

    def confirm(
        self, acting: ConnectServices, origin: Origin, issue: JiraIssue, *, whole_thread: bool
    ) -> None:
        """Copy the message's (or thread's) files to the issue, then tell the person where
        they acted, with which files were attached and which not."""
        files = None
        if from_message(origin):
            message_ts = origin.message_ts or ""
            files = attach_source_files(
                self.services.attachments,
                self.services.slack,
                self.services.jira,
                issue.key,
                origin.team_id,
                origin.channel_id or "",
                origin.thread_ts or message_ts,
                message_ts,
                whole=whole_thread,
            )
        self._tell(acting, origin, issue, files)

    def _source(self, origin: Origin) -> str:
        author = (
            self.services.users.display_name_for(origin.team_id, origin.message_author)
            if origin.message_author
            else "an app"
        )
        try:
            permalink = self.services.slack.get_permalink(
                origin.channel_id or "", origin.message_ts or ""
            )
        except Exception:
            return f"From a Slack message by {author}."
        return f"From [a Slack message|{permalink}] by {author}."

    def _own_action(self, origin: Origin) -> OwnAction:
        """The creator, and where they are told: the message's thread, the command's channel."""
        in_thread = origin.source == "message" and origin.message_ts
        thread = (origin.thread_ts or origin.message_ts) if in_thread else None
        return OwnAction.of(
            self.services,
            team_id=origin.team_id,
            slack_user_id=origin.user_id,
            channel_id=origin.channel_id,
            thread_ts=thread,
        )

    def _tell(
        self, acting: ConnectServices, origin: Origin, issue: JiraIssue, files: str | None
    ) -> None:
        card = self.cards.card(issue)
        text = f"Created {self.cards.text(issue)}"
        try:
            if from_message(origin):
                self._reply_in_thread(acting, origin, issue, text, card, files)
            elif origin.source == "command" and origin.response_url:
                created = {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"Created *{issue.key}*."},
                }
                self.services.slack.respond(
                    origin.response_url,
                    {"text": text, "blocks": [created, *card], "response_type": "ephemeral"},
                )
            else:
                self._dm(origin.user_id, text, card)
        except ConnectError as error:
            self._dm(origin.user_id, f"{text}. {error.user_message}", card)
        except Exception:
            log.exception("could not confirm the creation of %s", issue.key)

    def _reply_in_thread(
        self,
        acting: ConnectServices,
        origin: Origin,
        issue: JiraIssue,
        text: str,
        card: list[Block],
        files: str | None,
    ) -> None:
        """Link the message to the issue and say so in its thread (a DM when the bot is not
        in the channel)."""
        channel_id, message_ts = origin.channel_id or "", origin.message_ts or ""
        ref = MessageRef(origin.team_id, channel_id, message_ts, origin.thread_ts)
        try:
            linked = acting.links.link_message(ref, origin.user_id, issue.key, issue=issue)
        except BotNotInChannel as error:
            self._dm(origin.user_id, f"{text}. {error.user_message}", card)
            return
        elements = [{"type": "mrkdwn", "text": f"Created by <@{origin.user_id}> from this thread"}]
        if files:
            elements.append({"type": "mrkdwn", "text": files[:2000]})
        note = {"type": "context", "elements": elements}
        switch = self.cards.sync_switch(issue.key, linked.link.sync_replies)
        try:
            self.services.slack.post_message(
                channel_id,
                text=text,
                blocks=[*card, note, switch],
                thread_ts=origin.thread_ts or message_ts,
            )
        except SlackNotInChannel:  # removed from the channel since the link was recorded
            self._dm(origin.user_id, f"{text}. {BotNotInChannel().user_message}", card)

    def _dm(self, user_id: str, text: str, card: list[Block]) -> None:
        channel = self.services.slack.open_dm(user_id)
        section = {"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(text)}}
        self.services.slack.post_message(channel, text=text, blocks=[section, *card])


# -- prefilling the form from a message --------------------------------------------------------


def message_summary(services: ConnectServices, team_id: str, text: str) -> str:
    """The message's first line with text in it, as plain text (Jira shows summaries as typed:
    no wiki escapes), mentions as names."""
    for line in text.splitlines():
        if not line.strip():
            continue  # a blank line has no summary (and 20,000 of them cost 100 ms to convert)
        plain = slack_to_plain_text(line, user_names=_names(services, team_id, line)).strip()
        if plain:
            return plain[:255]
    return ""


def message_description(services: ConnectServices, team_id: str, text: str) -> str:
    """The whole message in Jira markup, mentions as names."""
    return mrkdwn_to_wiki(text, user_names=_names(services, team_id, text))


def is_private(slack: SlackClient, channel_id: str) -> bool:
    try:
        return slack.channel_info(channel_id).is_private
    except Exception:
        return True  # a conversation the bot cannot see is private to it


def _names(services: ConnectServices, team_id: str, text: str) -> dict[str, str]:
    return {uid: services.users.display_name_for(team_id, uid) for uid in mentioned_users(text)}
