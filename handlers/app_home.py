"""App Home: my Jira mapping (with a Connect button), what Connect DMs me about (switches), my
open issues, the channels I subscribed.

Published fresh every time the person opens the tab (`app_home_opened` → views.publish), after
the ack. When Jira is down the home still publishes and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from slack_bolt import App

from clients.jira_client import JiraError
from clients.slack_client import SlackError
from handlers import cards
from handlers.after_ack import AfterAck, hand_over
from handlers.blocks import line_sections
from handlers.event_dedupe import read_event
from handlers.identity import CONNECT_BUTTON_ACTION, NO_MAPPING
from handlers.notify import NOTIFY_ACTION, describe, notify_blocks
from handlers.payloads import AppHomeOpened, BlockAction, CheckboxesAction
from models.users import DEFAULT_NOTICES
from services.connect_services import ConnectServices
from services.errors import user_message_for
from services.issues.app_home import AppHomeService, HomeData, SubscriptionLine
from services.people.person_jira import JiraNotConnected

log = logging.getLogger(__name__)

CONNECT_ACTION = "home_connect"
HOME_ISSUE_BLOCKS = 20
# Subscriptions listed in App Home; past them, a line says how many more there are.
HOME_SUBSCRIPTIONS = 50


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)
    app.action(CONNECT_ACTION)(hand_over("connect_and_publish", BlockAction, connect_and_publish))
    app.action(NOTIFY_ACTION)(hand_over("notify_switches", CheckboxesAction, switch_and_publish))


def home_opened(body: dict[str, Any], services: ConnectServices, after_ack: AfterAck) -> None:
    """Bolt has acked the event; the home is published after."""
    read = read_event(body, AppHomeOpened)
    if read is None:
        return
    envelope, event = read
    if event.tab != "home":
        return  # the Messages tab
    after_ack.submit("publish_on_open", publish, services, envelope.team_id, event.user)


def switch_and_publish(action: CheckboxesAction, services: ConnectServices) -> None:
    """The switches as ticked now are the person's choice (nothing ticked: `off`)."""
    team, user = action.team.id or "", action.user.id or ""
    chosen = services.notify_preferences.choose(team, user, action.ticked)
    publish(services, team, user, notice=f":white_check_mark: {describe(chosen)}")


def connect_and_publish(action: BlockAction, services: ConnectServices) -> None:
    team, user = action.team.id or "", action.user.id or ""
    if services.user_mode:  # nothing to match: the home's button opens Jira's consent screen
        publish(services, team, user)
        return
    try:
        result = services.users.connect(team, user)
        notice = None
        if not (result.connected and result.jira_user):
            notice = NO_MAPPING[result.status].format(email=cards.escape(result.email or "yours"))
    except Exception as error:
        notice = user_message_for(error) or ":warning: Connect could not map you; try again."
    publish(services, team, user, notice=notice)


def publish(
    services: ConnectServices,
    team_id: str,
    user_id: str,
    *,
    notice: str | None = None,
) -> None:
    issues, connect_url = services.issues, None
    if services.identity is not None:  # JIRA_AUTH_MODE=user: the issues their token may read
        try:
            issues = services.as_person(team_id, user_id).issues
        except JiraNotConnected:
            connect_url = services.identity.start_url(team_id, user_id)
        except JiraError as error:
            notice = notice or user_message_for(error)
    data = AppHomeService(services.uow, services.users, issues).load(team_id, user_id)
    if connect_url is not None:
        data = replace(data, jira_user=None, issues=())
    notices = services.notify_preferences.chosen(team_id, user_id)
    view = home_view(data, notice=notice, connect_url=connect_url, notices=notices)
    try:
        services.slack.publish_home(user_id, view)
    except SlackError as error:
        log.warning("could not publish the App Home of %s: %s", user_id, error)


# -- pure builders ----------------------------------------------------------------------------


def home_view(
    data: HomeData,
    *,
    notice: str | None = None,
    connect_url: str | None = None,
    notices: Sequence[str] = DEFAULT_NOTICES,
) -> dict[str, Any]:
    """`connect_url` (JIRA_AUTH_MODE=user, not connected): the button opens Jira's consent."""
    blocks: list[dict[str, Any]] = [_header("Connect")]
    if notice:
        blocks.append(_section(notice))
    if data.problem:
        blocks.append(_section(data.problem))
    blocks += _connect_blocks(connect_url) if connect_url else _mapping_blocks(data)
    blocks.append({"type": "divider"})
    blocks += notify_blocks(notices)
    blocks.append({"type": "divider"})
    blocks += _issue_blocks(data)
    blocks.append({"type": "divider"})
    blocks += _subscription_blocks(data.subscriptions)
    return {"type": "home", "blocks": blocks[:100]}


def _mapping_blocks(data: HomeData) -> list[dict[str, Any]]:
    if data.jira_user is not None:
        email = f" ({cards.escape(data.email)})" if data.email else ""
        text = f"*Your Jira account*\nYou are *{cards.escape(data.jira_user.display_name)}*{email}."
        button = "Refresh"
    else:
        text = (
            "*Your Jira account*\nYou are not connected to Jira. Connect finds your account by "
            "the e-mail of your Slack profile."
        )
        button = "Connect"
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": text},
            "accessory": {
                "type": "button",
                "text": {"type": "plain_text", "text": button},
                "action_id": CONNECT_ACTION,
                "value": "connect",
                **({"style": "primary"} if data.jira_user is None else {}),
            },
        }
    ]


def _connect_blocks(url: str) -> list[dict[str, Any]]:
    text = (
        "*Your Jira account*\nYou have not connected your Jira account. Connect acts in Jira as "
        "you, with what your Jira permissions allow."
    )
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": text},
            "accessory": {
                "type": "button",
                "text": {"type": "plain_text", "text": "Connect"},
                "action_id": CONNECT_BUTTON_ACTION,
                "url": url,
                "style": "primary",
            },
        }
    ]


def _issue_blocks(data: HomeData) -> list[dict[str, Any]]:
    blocks = [_header("My open issues")]
    if data.issues is None:
        blocks.append(_section("_Your issues can't be shown right now._"))
    elif data.jira_user is None:
        blocks.append(_section("_Connect your Jira account to see the issues assigned to you._"))
    elif not data.issues:
        blocks.append(_section("_Nothing open is assigned to you._"))
    else:
        blocks += [_section(cards.issue_line(i)) for i in data.issues[:HOME_ISSUE_BLOCKS]]
    return blocks


def _subscription_blocks(subscriptions: tuple[SubscriptionLine, ...]) -> list[dict[str, Any]]:
    blocks = [_header("Channels I subscribed")]
    if not subscriptions:
        blocks.append(
            _section("_None yet. In a channel, `/jira subscribe PROJECT` follows a project._")
        )
        return blocks
    lines = [_subscription_line(line) for line in subscriptions[:HOME_SUBSCRIPTIONS]]
    if len(subscriptions) > HOME_SUBSCRIPTIONS:
        more = len(subscriptions) - HOME_SUBSCRIPTIONS
        lines.append(f"…and {more} more: `/jira subscriptions` in a channel lists all of its own.")
    return blocks + line_sections(lines)


def _subscription_line(line: SubscriptionLine) -> str:
    # A channel mention: Slack shows its name only to people who may see the channel.
    what = " · ".join(
        part
        for part in (
            f"*{cards.escape(line.project_key)}*" if line.project_key else "",
            f"`{cards.escape(line.jql[:150])}`" if line.jql else "",
            ", ".join(line.kinds),
        )
        if part
    )
    return f"• <#{line.channel_id}> #{line.number}: {what or 'everything'}"


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
