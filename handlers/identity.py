"""`/jira connect | whoami | disconnect | assign | comment`: things done as a mapped person."""

from __future__ import annotations

from clients.jira_client import JiraUser
from handlers import blocks, cards
from handlers.command_request import CommandRequest, Message
from handlers.own_actions import OwnAction
from services.commands import UsageError, mentioned_users, parse_user_mention
from services.connect_services import ConnectServices
from services.errors import InvalidRequest
from services.markup import escape_typed, mrkdwn_to_wiki
from services.people.accounts import ConnectStatus

NO_MAPPING = {
    ConnectStatus.NO_EMAIL: "I can't see an e-mail address on your Slack profile, so I can't "
    "find your Jira account. (Connect needs the users:read.email scope.)",
    ConnectStatus.NO_JIRA_ACCOUNT: "No active Jira account has the e-mail {email}. Ask your Jira "
    "admin to invite you with that address, then run `/jira connect` again.",
    ConnectStatus.AMBIGUOUS: "Several Jira accounts have the e-mail {email}; ask your Jira admin "
    "to merge them, then run `/jira connect` again.",
    ConnectStatus.NOT_A_PERSON: "Only people can be mapped to Jira accounts.",
}


def connect(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
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


def whoami(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
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
    body = f"{mrkdwn_to_wiki(text.strip(), user_names=names)}\n\n— {author} via Slack"
    own = OwnAction.for_command(services, command)
    issue, _comment = services.issues.comment(key, body)
    own.accepted(issue.key)
    return blocks.ephemeral(f"Added your comment to *<{issue.url}|{issue.key}>*.")
