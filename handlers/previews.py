"""Issue-key previews in threads and unfurls of Jira links (SPEC §4 Events).

A message is looked at in this order, cheapest first: is it a person's new message, does it
name keys of allowed projects (pure; most talk stops here with no Jira call and no database
write), are previews on in the channel, which keys has this thread not seen previewed within
the hour (claimed in the database), and only then the issues (through the TTL cache).
Several keys in one message get one reply listing a compact card per issue: one message,
less noise in the thread, and each card keeps its buttons.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import App, BoltContext, BoltRequest

from clients.jira_client import JiraIssue
from clients.slack_client import SlackError
from handlers import cards
from handlers.after_ack import AfterAck
from handlers.event_dedupe import hand_over, read_event
from handlers.payloads import EventCallback, LinkShared, MessageEvent
from services.channel_settings import ChannelSettingsService
from services.connect_services import ConnectServices
from services.errors import ConnectError, IssueNotFound
from services.issues.cache import IssueCache, TTLCache
from services.issues.keys import find_issue_keys, parse_issue_key, project_of
from services.people.person_jira import JiraNotConnected
from services.policy import ConnectPolicy
from services.slack_dedupe import PreviewThrottle

log = logging.getLogger(__name__)

CONNECT_HINT_TTL = 24 * 3600.0

MAX_PREVIEW_KEYS = 5
MAX_UNFURLS = 5
# A person's own words: plain messages, and files shared with a comment. Edits, deletions,
# joins, bot posts and thread broadcasts (a copy of a reply) are not new talk.
PERSON_SUBTYPES = frozenset({None, "file_share"})
# Slack escapes `<` in text, so a link never holds one: stopping there keeps the scan linear.
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|<>]*)(?:\|([^<>]*))?>")
# Slack cuts a message's text at 40,000 characters; nothing longer is scanned on the ack path.
MAX_SCANNED_CHARS = 40_000
_BROWSE_PATH = re.compile(r"/browse/([^/?#]+)/?")


def register(app: App, cache: IssueCache) -> None:
    previews = Previews(cache)
    app.event("message")(previews.on_message)
    app.event("link_shared")(previews.on_link_shared)


# -- pure decisions (asked in the ack, before anything is queued or written) ------------------


def preview_keys(
    message: MessageEvent, *, bot_user_id: str | None, policy: ConnectPolicy
) -> list[str]:
    """The allowed keys a person's new message names; [] for anything Connect should ignore."""
    if message.subtype not in PERSON_SUBTYPES or message.bot_id or message.hidden:
        return []
    if not message.user or (bot_user_id and message.user == bot_user_id):
        return []
    if bot_user_id and f"<@{bot_user_id}" in message.text:
        return []  # a mention of Connect is a command: the app_mention listener answers it
    text = _without_jira_links(message.text[:MAX_SCANNED_CHARS], policy.jira_base_url)
    keys = [key for key in find_issue_keys(text) if policy.project_allowed(project_of(key))]
    return keys[:MAX_PREVIEW_KEYS]


def _without_jira_links(text: str, jira_base_url: str) -> str:
    """Links to the Jira site are unfurled instead; other links keep only their label."""
    host = urlsplit(jira_base_url).hostname

    def label(match: re.Match[str]) -> str:
        if host and urlsplit(match.group(1)).hostname == host:
            return " "
        return f" {match.group(2) or ''} "

    return _SLACK_LINK.sub(label, text)


def jira_link_keys(urls: Iterable[str], *, policy: ConnectPolicy) -> dict[str, str]:
    """URL → key for the `/browse/KEY` links of the Jira site, allowed projects only."""
    base = urlsplit(policy.jira_base_url)
    if not base.hostname:
        return {}
    base_path = base.path.rstrip("/")
    found: dict[str, str] = {}
    for url in urls:
        parts = urlsplit(url.replace("&amp;", "&"))
        if parts.hostname != base.hostname or not parts.path.startswith(base_path + "/"):
            continue
        match = _BROWSE_PATH.fullmatch(parts.path[len(base_path) :])
        key = parse_issue_key(match.group(1)) if match else None
        if key and policy.project_allowed(project_of(key)):
            found[url] = key
    return dict(list(found.items())[:MAX_UNFURLS])


def preview_message(issues: list[JiraIssue]) -> dict[str, Any]:
    blocks = [block for issue in issues for block in cards.issue_card(issue, compact=True)]
    text = "; ".join(cards.issue_text(issue) for issue in issues)
    return {"text": text[:3000], "blocks": blocks}


# -- listeners --------------------------------------------------------------------------------


class Previews:
    """Bolt acks each event before its listener runs; the listener decides, with no Jira call
    and no write, whether there is anything to do, and hands that over (at most once per
    event: handlers.event_dedupe). Passing talk is skipped while the work is backed up."""

    def __init__(self, cache: IssueCache) -> None:
        self.cache = cache
        # JIRA_AUTH_MODE=user: who was told (once a day) that their keys get no preview until
        # they connect.
        self.hinted: TTLCache[tuple[str, str], bool] = TTLCache(CONNECT_HINT_TTL)

    def readable(
        self, services: ConnectServices, team_id: str, user_id: str | None, keys: list[str]
    ) -> list[JiraIssue]:
        """The issues behind `keys` that may be shown: in JIRA_AUTH_MODE=user only those the
        poster's own Jira account may read (JiraNotConnected when they have none)."""
        if services.identity is None:
            return [i for i in (self.cache.get(services.issues, k) for k in keys) if i]
        if not user_id:
            return []
        reader = services.as_person(team_id, user_id).issues
        found = []
        for key in keys:  # not through the shared cache: what one person may see is theirs
            try:
                found.append(reader.get(key))
            except IssueNotFound:
                continue
        return found

    def hint_connect(
        self, services: ConnectServices, team_id: str, channel: str, user_id: str | None
    ) -> None:
        """Once a day per person: their keys get no preview until they connect their Jira."""
        if services.identity is None or not user_id or self.hinted.lookup((team_id, user_id))[0]:
            return
        self.hinted.put((team_id, user_id), True)
        url = services.identity.start_url(team_id, user_id)
        text = (
            "Connect previews Jira issues only for people who connected their Jira account, so "
            f"that nobody shows an issue they may not see. <{url}|Connect your Jira account>."
        )
        try:
            services.slack.post_ephemeral(channel, user_id, text=text)
        except SlackError as error:
            log.info("could not hint %s to connect: %s", user_id, error)

    def on_message(
        self,
        body: dict[str, Any],
        request: BoltRequest,
        context: BoltContext,
        services: ConnectServices,
        after_ack: AfterAck,
    ) -> None:
        read = read_event(body, MessageEvent)
        if read is None:
            return
        envelope, message = read
        keys = preview_keys(message, bot_user_id=context.bot_user_id, policy=services.policy)
        if not keys or after_ack.refuse("preview"):
            return
        hand_over(
            after_ack,
            "preview",
            request,
            envelope,
            services,
            self.preview,
            envelope,
            message,
            keys,
            services,
        )

    def on_link_shared(
        self,
        body: dict[str, Any],
        request: BoltRequest,
        services: ConnectServices,
        after_ack: AfterAck,
    ) -> None:
        read = read_event(body, LinkShared)
        if read is None:
            return
        envelope, event = read
        links = jira_link_keys((link.url for link in event.links), policy=services.policy)
        if not links or after_ack.refuse("unfurl"):
            return
        hand_over(
            after_ack,
            "unfurl",
            request,
            envelope,
            services,
            self.unfurl,
            event,
            links,
            services,
            envelope.team_id,
        )

    def preview(
        self,
        envelope: EventCallback,
        message: MessageEvent,
        keys: list[str],
        services: ConnectServices,
    ) -> None:
        team, channel = envelope.team_id, message.channel
        settings = ChannelSettingsService(services.uow, services.links)
        if not settings.previews_enabled(team, channel):
            return
        thread = message.thread_ts or message.ts
        throttle = PreviewThrottle(services.uow)
        claimed = throttle.claim(team, channel, thread, keys)
        if not claimed:
            return
        try:
            issues = self.readable(services, team, message.user, claimed)
            if issues:
                services.slack.post_message(channel, thread_ts=thread, **preview_message(issues))
        except JiraNotConnected:
            throttle.release(team, channel, thread, claimed)
            self.hint_connect(services, team, channel, message.user)
        except (ConnectError, SlackError) as error:
            # Not previewed after all: a later mention in this thread may try again.
            log.info("no preview of %s in %s: %s", ", ".join(claimed), channel, error)
            throttle.release(team, channel, thread, claimed)

    def unfurl(
        self,
        event: LinkShared,
        links: dict[str, str],
        services: ConnectServices,
        team_id: str = "",
    ) -> None:
        unfurls: dict[str, Any] = {}
        try:
            keys = list(dict.fromkeys(links.values()))
            readable = {i.key: i for i in self.readable(services, team_id, event.user, keys)}
            for url, key in links.items():
                issue = readable.get(key)
                if issue is not None:
                    unfurls[url] = {"blocks": cards.issue_card(issue)}
        except JiraNotConnected:
            return
        except ConnectError as error:
            log.info("no unfurl in %s: %s", event.channel, error.user_message)
            return
        if not unfurls:
            return
        try:
            if event.source == "composer" or event.channel == "COMPOSER":
                composer = event.source or "composer"
                services.slack.unfurl_in_composer(event.unfurl_id or "", composer, unfurls)
            else:
                services.slack.unfurl(event.channel, event.message_ts, unfurls)
        except SlackError as error:
            log.info("could not unfurl in %s: %s", event.channel, error)
