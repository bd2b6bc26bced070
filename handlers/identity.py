"""`/jira connect | whoami | disconnect | assign | comment`: things done as a mapped person.

In `bot` mode a person is mapped by e-mail (services.people.accounts). In JIRA_AUTH_MODE=user
(SPEC §12) `connect` answers with a button to Jira's consent screen, `whoami` shows the
account the person granted, `disconnect` deletes (and where Jira can, revokes) their tokens,
and whoever acts without a grant gets the connect button (`connect_prompt`).
"""

from __future__ import annotations

import logging
from typing import Any

from clients.jira_client import JiraUser
from handlers import blocks, cards
from handlers.command_request import CommandRequest, Message
from services.commands import UsageError, mentioned_users, parse_user_mention
from services.connect_services import ConnectServices
from services.errors import InvalidRequest
from services.markup import escape_typed, mrkdwn_to_wiki
from services.notifications.own_changes import OwnAction
from services.people.accounts import ConnectStatus
from services.people.jira_identity import (
    ATLASSIAN_APPS_URL,
    Connected,
    JiraIdentity,
    PendingCommand,
)
from services.people.person_jira import JiraNotConnected

log = logging.getLogger(__name__)

CONNECT_BUTTON_ACTION = "jira_connect_open"
RUN_PENDING_ACTION = "jira_run_pending"
BUTTON_VALUE_MAX = 2000  # Slack's limit on a button's value

NO_MAPPING = {
    ConnectStatus.NO_EMAIL: "I can't see an e-mail address on your Slack profile, so I can't "
    "find your Jira account. (Connect needs the users:read.email scope.)",
    ConnectStatus.NO_JIRA_ACCOUNT: "No active Jira account has the e-mail {email}. Ask your Jira "
    "admin to invite you with that address, then run `/jira connect` again.",
    ConnectStatus.AMBIGUOUS: "Several Jira accounts have the e-mail {email}; ask your Jira admin "
    "to merge them, then run `/jira connect` again.",
    ConnectStatus.NOT_A_PERSON: "Only people can be mapped to Jira accounts.",
}


def connect_prompt(
    identity: JiraIdentity,
    team_id: str,
    user_id: str,
    text: str,
    pending: PendingCommand | None = None,
) -> Message:
    """An ephemeral answer with the button that opens Jira's consent screen for this person."""
    url = identity.start_url(team_id, user_id, pending)
    label = "Connect your Jira account"
    return {
        "response_type": "ephemeral",
        "text": f"{text} {label}: {url}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "block_id": "jira_connect",
                "elements": [
                    {
                        "type": "button",
                        "action_id": CONNECT_BUTTON_ACTION,
                        "text": {"type": "plain_text", "text": label},
                        "url": url,
                        "style": "primary",
                    }
                ],
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "The link works once, for you only, for 10 minutes.",
                    }
                ],
            },
        ],
    }


def not_connected(
    services: ConnectServices,
    team_id: str,
    user_id: str,
    error: JiraNotConnected,
    pending: PendingCommand | None = None,
) -> Message:
    """The answer to someone who acted without a working Jira grant."""
    if services.identity is None:
        return blocks.ephemeral(error.user_message)
    text = error.user_message
    if pending is not None:
        text += " Once you are connected, I'll offer to run your command again."
    return connect_prompt(services.identity, team_id, user_id, text, pending)


def not_connected_text(
    services: ConnectServices, team_id: str, user_id: str, error: JiraNotConnected
) -> str:
    """`not_connected` as one mrkdwn line with a link, for a modal or a plain message."""
    if services.identity is None:
        return error.user_message
    url = services.identity.start_url(team_id, user_id)
    return f"{error.user_message} <{url}|Connect your Jira account> (the link works once)."


def connected_message(connected: Connected) -> tuple[str, list[dict[str, Any]]]:
    """The DM once a person connected: who they are in Jira, and their command to run again."""
    name = cards.escape(connected.grant.display_name)
    text = (
        f":white_check_mark: Connected as *{name}* in Jira. What you do in Jira from Slack is "
        "now done as you."
    )
    found: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    pending = connected.pending
    if pending is not None and len(pending.to_json()) > BUTTON_VALUE_MAX:
        found.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "Run your command again."}}
        )
    elif pending is not None:
        shown = escape_typed(pending.text[:200])
        found.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"You tried `/jira {shown}`."}}
        )
        found.append(
            {
                "type": "actions",
                "block_id": "jira_pending",
                "elements": [
                    {
                        "type": "button",
                        "action_id": RUN_PENDING_ACTION,
                        "text": {"type": "plain_text", "text": "Run it now"},
                        "value": pending.to_json(),
                        "style": "primary",
                    }
                ],
            }
        )
    return text, found


def tell_connected(services: ConnectServices, connected: Connected) -> None:
    if services.identity is not None:
        text, found = connected_message(connected)
        services.identity.tell(connected.grant.team_id, connected.grant.slack_user_id, text, found)


def connect(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    if services.identity is not None:
        return _connect_user_mode(services.identity, command.team_id, command.user_id)
    result = services.users.connect(command.team_id, command.user_id)
    if result.connected and result.jira_user:
        return blocks.ephemeral(
            f":white_check_mark: You are *{cards.escape(result.jira_user.display_name)}* in Jira "
            f"(matched by {cards.escape(result.email or 'your e-mail')}). Issues you create, "
            "assign or comment on from Slack are credited to you."
        )
    return blocks.ephemeral(
        NO_MAPPING[result.status].format(email=cards.escape(result.email or "yours"))
    )


def _connect_user_mode(identity: JiraIdentity, team_id: str, user_id: str) -> Message:
    grant = identity.whoami(team_id, user_id)
    if not identity.uses_oauth:
        return pat_prompt(grant.display_name if grant else None)
    text = "Connect acts in Jira as you: connect your own Jira account (Jira asks you to agree)."
    if grant is not None:
        text = (
            f"You are connected as *{cards.escape(grant.display_name)}* in Jira. To connect "
            "another account, go through Jira's consent screen again:"
        )
    return connect_prompt(identity, team_id, user_id, text)


PAT_OPEN_ACTION = "jira_pat_open"


def pat_prompt(current: str | None) -> Message:
    """Data Center without an OAuth client: a button opening the personal-token modal."""
    text = (
        "Connect acts in Jira as you. Create a personal access token in Jira (your profile → "
        "Personal Access Tokens) and paste it here; it is stored encrypted."
    )
    if current:
        text = f"You are connected as *{cards.escape(current)}* in Jira. " + text
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "block_id": "jira_connect",
                "elements": [
                    {
                        "type": "button",
                        "action_id": PAT_OPEN_ACTION,
                        "text": {"type": "plain_text", "text": "Paste a personal access token"},
                        "style": "primary",
                    }
                ],
            },
        ],
    }


def whoami(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    if services.identity is not None:
        grant = services.identity.whoami(command.team_id, command.user_id)
        if grant is None:
            return connect_prompt(
                services.identity,
                command.team_id,
                command.user_id,
                "You have not connected a Jira account: Connect can't act in Jira for you yet.",
            )
        how = "OAuth" if grant.kind == "oauth" else "a personal access token"
        return blocks.ephemeral(
            f"You are *{cards.escape(grant.display_name)}* in Jira (connected through {how} on "
            f"{grant.connected_at:%Y-%m-%d %H:%M} UTC). What you do in Jira from Slack is done "
            "as you."
        )
    mapping = services.users.whoami(command.team_id, command.user_id)
    if mapping is None:
        return blocks.ephemeral(
            "You are not mapped to a Jira account. Run `/jira connect` to map yourself to the "
            "account with your Slack e-mail."
        )
    return blocks.ephemeral(
        f"You are *{cards.escape(mapping.jira_display_name)}* in Jira "
        f"({cards.escape(mapping.email)}), checked {mapping.verified_at:%Y-%m-%d %H:%M} UTC."
    )


def disconnect(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    if services.identity is not None:
        had, revoked = services.identity.disconnect(command.team_id, command.user_id)
        if not had:
            return blocks.ephemeral("You had not connected a Jira account.")
        text = "Done: I deleted your Jira tokens, so Connect can no longer act as you in Jira."
        if revoked:
            text += " Jira revoked them too."
        elif services.identity.cloud:
            text += (
                f" To remove Connect from your Atlassian account as well, go to "
                f"<{ATLASSIAN_APPS_URL}|your connected apps>."
            )
        else:
            text += " You can also revoke its access in your Jira profile."
        return blocks.ephemeral(text)
    had = services.users.disconnect(command.team_id, command.user_id)
    prefix = "Done: I forgot your Jira mapping." if had else "You were not mapped to Jira."
    return blocks.ephemeral(
        f"{prefix} I won't act as or credit a Jira account for you until you run `/jira connect`."
    )


def assign(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    key, target = request.invocation.args[0], request.invocation.args[1]
    assignee = _assignee(services, command.team_id, command.user_id, target)
    own = OwnAction.for_command(services, command)
    issue = services.issues.assign(key, assignee)
    own.accepted(issue.key)
    who = cards.escape(assignee.display_name) if assignee else "nobody"
    return {
        "response_type": "ephemeral",
        "text": f"Assigned *{issue.key}* to {who}.",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"Assigned *{issue.key}* to {who}."},
            },
            *cards.issue_card(issue),
        ],
    }


def _assignee(
    services: ConnectServices, team_id: str, user_id: str, target: str
) -> JiraUser | None:
    word = target.strip().lower()
    if word in {"none", "nobody", "unassigned", "-"}:
        return None
    slack_user = user_id if word == "me" else parse_user_mention(target)
    if slack_user is None:
        raise UsageError(
            f"`{escape_typed(target[:40])}` is not @someone, `me` or `none`.",
            services.parser.usage_of("assign"),
        )
    jira_user = services.users.jira_user_for(team_id, slack_user)
    if jira_user is None:
        if services.user_mode and slack_user != user_id:
            raise InvalidRequest(
                f"<@{slack_user}> has not connected a Jira account yet; they can run "
                "`/jira connect`."
            )
        if slack_user == user_id:
            raise InvalidRequest("I can't find your Jira account. Run `/jira connect` to map it.")
        raise InvalidRequest(
            f"I can't find a Jira account for <@{slack_user}>: "
            "none has the e-mail of their Slack profile."
        )
    return jira_user


def comment(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    key, _, text = request.invocation.rest.partition(" ")
    team = command.team_id
    author = services.users.display_name_for(team, command.user_id)
    names = {uid: services.users.display_name_for(team, uid) for uid in mentioned_users(text)}
    body = mrkdwn_to_wiki(text.strip(), user_names=names)
    if not services.user_mode:  # in user mode Jira shows the person as the author
        body += f"\n\n— {author} via Slack"
    own = OwnAction.for_command(services, command)
    issue, _comment = services.issues.comment(key, body)
    own.accepted(issue.key)
    return blocks.ephemeral(f"Added your comment to *<{issue.url}|{issue.key}>*.")
