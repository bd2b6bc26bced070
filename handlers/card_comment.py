"""The card's Comment button: a modal opened in the ack, the comment added after it.

The modal opens while the trigger_id is fresh (pushed on top when the card is itself in a
modal); after the ack, the work thread checks that the person has a Jira mapping and says so in the
modal if not. Submitting shows "Adding…" at once; the comment is added after the ack,
credited to the person's Jira name, and the modal then says it is done. The card itself does
not change: it shows nothing a comment changes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from clients.slack_client import SlackError
from handlers import identity
from handlers.after_ack import AfterAck
from handlers.card_places import CardPlace, own_action
from handlers.payloads import CardAction, ViewSubmission
from services.commands import mentioned_users
from services.connect_services import ConnectServices
from services.errors import user_message_for
from services.issues import card_parts
from services.issues.keys import parse_issue_key
from services.markup import mrkdwn_to_wiki
from services.people.person_jira import JiraNotConnected

log = logging.getLogger(__name__)

CALLBACK_ID = "card_comment"
COMMENT_BLOCK = "comment"
COMMENT_MAX = 3000
NOT_CONNECTED = (
    "I don't know your Jira account yet, so I can't comment for you. Run `/jira connect` "
    "to map yourself to the Jira account with your Slack e-mail, then try again."
)


def register(app: App) -> None:
    app.action(card_parts.COMMENT_ACTION)(open_modal)
    app.view(CALLBACK_ID)(submit)


def external_id(trigger_id: str) -> str:
    return f"connect-card-comment-{trigger_id}"[:255]


# -- pure builders ----------------------------------------------------------------------------


def comment_modal(place: CardPlace, *, trigger_id: str) -> dict[str, Any]:
    metadata = {"key": place.key, "channel": place.channel_id, "thread": place.thread_ts}
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "external_id": external_id(trigger_id),
        "title": _plain(_title(place.key)),
        "submit": _plain("Comment"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata),
        "blocks": [
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "label": _plain("Comment"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": COMMENT_BLOCK,
                    "multiline": True,
                    "max_length": COMMENT_MAX,
                    "placeholder": _plain(f"Your comment on {place.key}"[:150]),
                },
            }
        ],
    }


def notice_modal(key: str, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain(_title(key)),
        "close": _plain("Close"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }


def _title(key: str) -> str:
    title = f"Comment on {key}"
    return title if len(title) <= 24 else "Comment on issue"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def read_comment(state: dict[str, object]) -> str:
    values = state.get("values")
    block = values.get(COMMENT_BLOCK) if isinstance(values, dict) else None
    element = block.get(COMMENT_BLOCK) if isinstance(block, dict) else None
    value = element.get("value") if isinstance(element, dict) else None
    return value if isinstance(value, str) else ""


def place_of(submission: ViewSubmission) -> CardPlace:
    """Where the card was, from the modal's metadata (a broken one is a bad payload: 400)."""
    metadata = json.loads(submission.view.private_metadata or "{}")
    key = parse_issue_key(str(metadata.get("key") or ""))
    if key is None:
        raise ValueError("the comment modal names no issue")
    channel, thread = metadata.get("channel"), metadata.get("thread")
    return CardPlace(
        submission.team.id or "",
        submission.user.id or "",
        key,
        channel if isinstance(channel, str) else None,
        thread if isinstance(thread, str) else None,
    )


# -- listeners --------------------------------------------------------------------------------


def open_modal(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    services: ConnectServices,
    after_ack: AfterAck,
) -> None:
    action = CardAction.model_validate(body)
    key = parse_issue_key(action.action.value or "")
    ack()
    if key is None or not action.trigger_id:
        return
    place = CardPlace.of(action, key)
    view = comment_modal(place, trigger_id=action.trigger_id)
    try:
        if action.container.type == "view":  # a card inside a modal: stack ours on top
            client.views_push(trigger_id=action.trigger_id, view=view)
        else:
            client.views_open(trigger_id=action.trigger_id, view=view)
    except (SlackClientError, OSError) as error:  # an expired trigger: nothing to show it on
        log.warning("could not open the comment modal: %s", error)
        return
    after_ack.submit("check_mapping", check_mapping, place, action.trigger_id, services)


def check_mapping(place: CardPlace, trigger_id: str, services: ConnectServices) -> None:
    key = place.key
    try:
        if services.users.jira_user_for(place.team_id, place.user_id) is not None:
            return
        text = NOT_CONNECTED
        if services.user_mode:
            error = JiraNotConnected()
            text = identity.not_connected_text(services, place.team_id, place.user_id, error)
    except Exception as error:
        text = user_message_for(error) or NOT_CONNECTED
    try:
        services.slack.update_view(notice_modal(key, text), external_id=external_id(trigger_id))
    except SlackError as error:  # submitted or closed meanwhile
        log.info("could not update the comment modal: %s", error)


def submit(
    ack: Ack,
    body: dict[str, Any],
    services: ConnectServices,
    after_ack: AfterAck,
) -> None:
    submission = ViewSubmission.model_validate(body)
    place = place_of(submission)
    text = read_comment(submission.view.state)
    if not text.strip():
        ack(response_action="errors", errors={COMMENT_BLOCK: "Write a comment first."})
        return
    adding = notice_modal(
        place.key, f":hourglass_flowing_sand: Adding your comment to {place.key}…"
    )
    ack(response_action="update", view=adding)
    after_ack.submit("add_comment", add_comment, submission, place, text, services)


def add_comment(
    submission: ViewSubmission,
    place: CardPlace,
    comment: str,
    services: ConnectServices,
) -> None:
    view = submission.view
    # A double click submits the same view twice: one comment.
    if not services.create_issue.claim_submission(
        place.team_id, f"card-comment:{view.id}:{view.hash}"
    ):
        return
    try:
        text = _add(services, place, comment)
    except JiraNotConnected as error:
        text = identity.not_connected_text(services, place.team_id, place.user_id, error)
    except Exception as error:
        text = user_message_for(error) or ""
        if not text:
            log.exception("adding a comment to %s from a card failed", place.key)
            text = ":warning: Something went wrong on Connect's side; try again."
    try:
        services.slack.update_view(notice_modal(place.key, text), view_id=view.id)
    except SlackError as error:
        log.info("could not confirm the comment on %s: %s", place.key, error)


def _add(services: ConnectServices, place: CardPlace, text: str) -> str:
    acting = services.as_person(place.team_id, place.user_id)  # JIRA_AUTH_MODE=user: as them
    me = services.users.jira_user_for(place.team_id, place.user_id)
    if me is None:
        return NOT_CONNECTED
    names = {
        uid: services.users.display_name_for(place.team_id, uid) for uid in mentioned_users(text)
    }
    body = mrkdwn_to_wiki(text.strip(), user_names=names)
    if not services.user_mode:  # in user mode Jira shows the person as the author
        body += f"\n\n— {me.display_name} via Slack"
    own = own_action(services, place)
    issue, _comment = acting.issues.comment(place.key, body)
    own.accepted(issue.key)
    return f":white_check_mark: Added your comment to *<{issue.url}|{issue.key}>*."
