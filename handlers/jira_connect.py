"""The buttons and modal of connecting a Jira account in JIRA_AUTH_MODE=user (SPEC §12).

- "Connect your Jira account" is a URL button: Slack opens it; Connect only acks.
- "Run it now" (in the "Connected as …" DM) runs the command the person tried before they
  were connected, in the channel they tried it in, answering in the DM.
- Data Center without an OAuth client: "Paste a personal access token" opens a modal; the
  token is checked with Jira's `myself` and stored encrypted.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import SecretStr
from slack_bolt import Ack, App
from slack_sdk import WebClient

from clients.jira_client import JiraAuthError, JiraError, JiraUnavailable
from clients.slack_client import SlackError
from handlers import blocks, cards, commands, identity
from handlers.after_ack import AfterAck, just_ack
from handlers.answers import answer
from handlers.command_request import CommandRequest
from handlers.modal_opener import ModalOpener
from handlers.payloads import BlockAction, SlashCommand, ViewSubmission
from services.commands import UsageError
from services.connect_services import ConnectServices
from services.people.jira_identity import PendingCommand

log = logging.getLogger(__name__)

PAT_CALLBACK = "jira_pat_submit"
PAT_BLOCK, PAT_INPUT = "jira_pat", "token"
PAT_MAX = 512


def register(app: App) -> None:
    app.action(identity.CONNECT_BUTTON_ACTION)(just_ack)
    app.action(identity.RUN_PENDING_ACTION)(acknowledge_run_pending)
    app.action(identity.PAT_OPEN_ACTION)(open_pat_modal)
    app.view(PAT_CALLBACK)(submit_pat)


def acknowledge_run_pending(
    ack: Ack,
    body: dict[str, Any],
    services: ConnectServices,
    after_ack: AfterAck,
) -> None:
    action = BlockAction.model_validate(body)
    ack()
    pending = PendingCommand.from_json(action.action.value)
    if pending is None or not action.team.id or not action.user.id:
        return
    command = SlashCommand(
        command="/jira",
        text=pending.text,
        team_id=action.team.id,
        channel_id=pending.channel_id,
        user_id=action.user.id,
        response_url=action.response_url,
    )
    try:
        invocation = services.parser.parse(pending.text)
    except UsageError as error:  # told after the ack, as the command's own answer would be
        usage = {**blocks.usage_error_message(error, services.parser), "replace_original": False}
        after_ack.submit(
            "run_pending", answer, services, action.response_url, usage, what="run it now"
        )
        return
    if invocation.name not in commands.SLOW_SUBCOMMANDS:
        return
    after_ack.submit("run_jira", commands.run_jira, CommandRequest(command, invocation), services)


def pat_modal(problem: str | None = None) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Connect will act in Jira as the owner of this token. Create one in "
                "Jira under your profile → *Personal Access Tokens*.",
            },
        },
        {
            "type": "input",
            "block_id": PAT_BLOCK,
            "label": {"type": "plain_text", "text": "Personal access token"},
            "element": {"type": "plain_text_input", "action_id": PAT_INPUT, "max_length": PAT_MAX},
        },
    ]
    if problem:
        blocks.insert(1, {"type": "section", "text": {"type": "mrkdwn", "text": problem}})
    return {
        "type": "modal",
        "callback_id": PAT_CALLBACK,
        "title": {"type": "plain_text", "text": "Connect Jira"},
        "submit": {"type": "plain_text", "text": "Connect"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def notice_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Connect Jira"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def open_pat_modal(ack: Ack, body: dict[str, Any], client: WebClient, opener: ModalOpener) -> None:
    action = BlockAction.model_validate(body)
    ack()
    if action.trigger_id:
        opener.open(client, action.trigger_id, pat_modal(), what="personal token")


def submit_pat(
    ack: Ack,
    body: dict[str, Any],
    services: ConnectServices,
    after_ack: AfterAck,
) -> None:
    """The ack shows "checking"; Jira is asked (`myself`) after it, and the modal then says
    who the token is, or shows the form again with Jira's refusal."""
    submission = ViewSubmission.model_validate(body)
    token = _typed_token(submission.view.state)
    if services.identity is None or not token:
        ack(response_action="errors", errors={PAT_BLOCK: "Paste your personal access token."})
        return
    ack(
        response_action="update",
        view=notice_view(":hourglass_flowing_sand: Checking the token with Jira…"),
    )
    after_ack.submit(
        "check_personal_token",
        check_personal_token,
        submission.team.id or "",
        submission.user.id or "",
        submission.view.id,
        SecretStr(token),
        services,
    )


def check_personal_token(
    team: str,
    user: str,
    view_id: str,
    token: SecretStr,
    services: ConnectServices,
) -> None:
    assert services.identity is not None
    try:
        grant = services.identity.save_personal_token(team, user, token)
    except JiraAuthError:
        view = pat_modal(":warning: Jira refused this token. Check it and paste it again.")
    except JiraUnavailable:
        view = pat_modal(":warning: Jira is not reachable right now; try again in a minute.")
    except JiraError as error:
        view = pat_modal(f":warning: {cards.escape(error.message[:300])}")
    else:
        name = cards.escape(grant.display_name)
        text = (
            f":white_check_mark: Connected as *{name}* in Jira. What you do in Jira from Slack "
            "is now done as you."
        )
        view = notice_view(text)
        services.identity.tell(team, user, text)
    try:
        services.slack.update_view(view, view_id=view_id)
    except SlackError as error:  # closed meanwhile
        log.info("could not update the personal token modal: %s", error)


def _typed_token(state: dict[str, object]) -> str:
    values = state.get("values")
    if not isinstance(values, dict):
        return ""
    block = values.get(PAT_BLOCK)
    field = block.get(PAT_INPUT) if isinstance(block, dict) else None
    value = field.get("value") if isinstance(field, dict) else None
    return str(value or "").strip()[:PAT_MAX]
