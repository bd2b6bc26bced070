"""Creating issues: `/jira create`, the global and message shortcuts, and the modal.

The modal opens right after the ack with a loading view (a trigger_id lives 3 s); once Slack
has it, the modal opener submits the filling (views.update with the form from Jira) to the
work after acks. Submitting answers at once ("Creating…"), and the issue is created after
the ack (handlers.after_ack), so a slow Jira never holds one; what follows the creation
(linking, files, telling the person) is services.issues.creation's.

After the ack every Slack call goes through services.slack; the listener's `client` only
opens the modal (ModalOpener, in the ack's wake).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from clients.jira_client import JiraFieldErrors
from handlers import cards, identity
from handlers.after_ack import AfterAck, hand_over
from handlers.backlog import BUSY_FIELD_TEXT, BUSY_TEXT
from handlers.blocks import one_of
from handlers.create_views import (
    CALLBACK_ID,
    PROJECT_ACTION,
    TYPE_ACTION,
    Answers,
    CreateContext,
    created_view,
    extra_block_id,
    form_view,
    loading_view,
    message_view,
    read_answers,
)
from handlers.modal_opener import ModalOpener
from handlers.payloads import Shortcut, SlashCommand, ViewAction, ViewSubmission
from handlers.thread_sync import sync_switch
from services.connect_services import ConnectServices
from services.errors import user_message_for
from services.issues.create import IssueDraft, extra_value
from services.issues.creation import (
    IssueCards,
    IssueCreation,
    is_private,
    message_description,
    message_summary,
)
from services.people.person_jira import JiraNotConnected
from services.thread_sync.capture import thread_size

log = logging.getLogger(__name__)

# Jira's field ids → the form's blocks, so Jira's own errors land on the field at fault.
FIELD_BLOCKS = {
    "project": "project",
    "issuetype": "issue_type",
    "summary": "summary",
    "description": "description",
    "priority": "priority",
    "assignee": "assignee",
}
CARDS = IssueCards(card=cards.issue_card, text=cards.issue_text, sync_switch=sync_switch)


def register(app: App) -> None:
    # In the order of how often each comes (handlers.register_listeners).
    app.shortcut(one_of("create_issue", "create_issue_from_message"))(open_from_shortcut)
    app.view(CALLBACK_ID)(submit)
    app.action(one_of(PROJECT_ACTION, TYPE_ACTION))(
        hand_over("refresh_form", ViewAction, refresh_form)
    )


def external_id(trigger_id: str) -> str:
    return f"connect-create-{trigger_id}"[:255]


# -- opening ----------------------------------------------------------------------------------


def open_from_command(
    opener: ModalOpener,
    services: ConnectServices,
    client: WebClient,
    command: SlashCommand,
    words: tuple[str, ...],
) -> None:
    """Called in an ack: the modal must open while the trigger_id is fresh; it is filled
    (`fill_from_command`) once Slack has it."""
    fill = functools.partial(fill_from_command, services, command, words)
    _open(opener, client, command.trigger_id or "", _command_context(command), then=fill)


def _command_context(command: SlashCommand) -> CreateContext:
    return CreateContext(
        "command",
        command.team_id,
        command.user_id,
        command.channel_id,
        response_url=command.response_url,
    )


def open_from_shortcut(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    services: ConnectServices,
    after_ack: AfterAck,
    opener: ModalOpener,
) -> None:
    """The modal opens after the ack. A global shortcut whose form is built from what Connect
    keeps of Jira (`cached_form`, a few microseconds) opens with the form itself: one Slack
    call, nothing more to do. Otherwise (a message to read first, or Jira to ask) the loading
    view opens, and once Slack has it `fill_from_shortcut` is submitted to the work after
    acks, unless that is backed up: then the modal says so (handlers.backlog)."""
    shortcut = Shortcut.model_validate(body)
    context = _shortcut_context(shortcut)
    ack()
    # The form Connect keeps is its own account's: in JIRA_AUTH_MODE=user, the person's projects.
    keep = shortcut.message is None and not services.user_mode
    form = services.create_issue.cached_form() if keep else None
    if form is not None:
        view = form_view(context, form, Answers())
        opener.open(client, shortcut.trigger_id, view, what="create", logger=log)
        return
    if after_ack.refuse("fill_from_shortcut"):  # the form would wait its turn behind all that
        view = message_view(context, BUSY_TEXT)
        opener.open(client, shortcut.trigger_id, view, what="create", logger=log)
        return
    fill = functools.partial(fill_from_shortcut, shortcut, services)
    _open(opener, client, shortcut.trigger_id, context, then=fill)


def _shortcut_context(shortcut: Shortcut) -> CreateContext:
    if shortcut.message is None or shortcut.channel is None:
        return CreateContext("global", shortcut.team.id or "", shortcut.user.id or "")
    return CreateContext(
        "message",
        shortcut.team.id or "",
        shortcut.user.id or "",
        shortcut.channel.id,
        message_ts=shortcut.message.ts,
        thread_ts=shortcut.message.thread_ts,
        message_author=shortcut.message.user,
    )


def _open(
    opener: ModalOpener,
    client: WebClient,
    trigger_id: str,
    context: CreateContext,
    *,
    then: functools.partial[None],
) -> None:
    """Right after the ack (the ack does not wait for Slack's answer); `then` fills it in
    after the ack, once Slack has answered."""
    view = {**loading_view(context), "external_id": external_id(trigger_id)}
    opener.open(client, trigger_id, view, what="create", logger=log, then=then)


# -- filling ----------------------------------------------------------------------------------


def fill_from_command(
    services: ConnectServices, command: SlashCommand, words: tuple[str, ...]
) -> None:
    """`create [PROJECT] [summary…]`: the first word is a project when it names one."""
    context = _command_context(command)
    project = words[0].upper() if words else None
    rest = list(words[1:])
    answers = Answers(project_key=project, summary=" ".join(rest))
    _fill(services, external_id(command.trigger_id or ""), context, answers, words)


def fill_from_shortcut(shortcut: Shortcut, services: ConnectServices) -> None:
    context = _shortcut_context(shortcut)
    answers = Answers()
    if shortcut.message is not None and context.channel_id:
        slack = services.slack
        context.private_source = is_private(slack, context.channel_id)
        context.thread_size = thread_size(slack, context.channel_id, shortcut.message.thread_ts)
        text = shortcut.message.text or ""
        answers.summary = message_summary(services, context.team_id, text)
        answers.description = message_description(services, context.team_id, text)
    _fill(services, external_id(shortcut.trigger_id), context, answers, ())


def _fill(
    services: ConnectServices,
    view_external_id: str,
    context: CreateContext,
    answers: Answers,
    words: tuple[str, ...],
) -> None:
    try:
        acting = services.as_person(context.team_id, context.user_id)
        form = acting.create_issue.form(answers.project_key)
        if words and form.project.key != (answers.project_key or ""):
            answers.summary = " ".join(words)  # the first word was not a project after all
        view = form_view(context, form, answers)
    except JiraNotConnected as error:
        view = _form_to_connect(services, context, answers, error)
    except Exception as error:
        view = message_view(context, _failure_text(error, "load the form"))
    services.slack.update_view(view, external_id=view_external_id)


def _form_to_connect(
    services: ConnectServices, context: CreateContext, answers: Answers, error: JiraNotConnected
) -> dict[str, Any]:
    """JIRA_AUTH_MODE=user, not connected: the form all the same (as Connect's account reads
    it), saying to connect first; what is typed stays, and "Create" works once connected."""
    text = identity.not_connected_text(services, context.team_id, context.user_id, error)
    try:
        form = services.create_issue.form(answers.project_key, answers.issue_type_id)
    except Exception as problem:  # Jira down or refusing: the connect text is what matters
        log.warning("the create form for someone not connected could not be read: %r", problem)
        return message_view(context, text)
    return form_view(context, form, answers, problem=text)


def refresh_form(action: ViewAction, services: ConnectServices) -> None:
    """Another project or type was picked: its types and required fields change."""
    context = CreateContext.load(action.view.private_metadata)
    answers = read_answers(action.view.state)
    try:
        acting = services.as_person(context.team_id, context.user_id)
        form = acting.create_issue.form(answers.project_key, answers.issue_type_id)
        view = form_view(context, form, answers)
    except JiraNotConnected as error:
        view = _form_to_connect(services, context, answers, error)
    except Exception as error:
        view = message_view(context, _failure_text(error, "load the form"))
    services.slack.update_view(view, view_id=action.view.id, hash=action.view.hash)


# -- submitting -------------------------------------------------------------------------------


def submit(ack: Ack, body: dict[str, Any], services: ConnectServices, after_ack: AfterAck) -> None:
    """Checked once, answered at once; the issue is created after the ack (`create`)."""
    submission = ViewSubmission.model_validate(body)
    view = submission.view
    answers = read_answers(view.state)
    errors = {}
    if not answers.project_key:
        errors["project"] = "Choose a project."
    if not answers.issue_type_id:
        errors["issue_type"] = "Choose an issue type."
    if not answers.summary.strip():
        errors["summary"] = "Give the issue a summary."
    if errors:
        ack(response_action="errors", errors=errors)
        return
    if after_ack.refuse("create"):  # the modal stays open with what was typed: submit again
        ack(response_action="errors", errors={"summary": BUSY_FIELD_TEXT})
        return
    origin = CreateContext.load(view.private_metadata)
    creating = message_view(origin, ":hourglass_flowing_sand: Creating the issue in Jira…")
    ack(response_action="update", view=creating)
    after_ack.submit("create", create, submission, origin, answers, services)


def create(
    submission: ViewSubmission,
    origin: CreateContext,
    answers: Answers,
    services: ConnectServices,
) -> None:
    """Only for a submission the ack accepted, with what the ack read of it."""
    view = submission.view
    # A double submit carries the same view hash: only the first creates an issue. Claimed
    # here, after the ack, so that the ack waits on no database write.
    team_id = origin.team_id or submission.team.id or ""
    if not services.create_issue.claim_submission(team_id, f"{view.id}:{view.hash}"):
        return
    creation = IssueCreation(services, CARDS)
    acting = services
    try:
        # JIRA_AUTH_MODE=user: created by the person themselves (Jira names them reporter).
        acting = services.as_person(origin.team_id, origin.user_id)
        if answers.whole_thread:  # shown again, the form holds the thread as its description
            answers.description = creation.with_conversation(origin, answers.description)
        issue = creation.create(acting, origin, _draft(origin, answers))
    except JiraNotConnected as error:
        # The form stays, with what was typed: once connected, "Create" again completes it.
        text = identity.not_connected_text(services, origin.team_id, origin.user_id, error)
        _show_form_again(services, view.id, origin, answers, None, problem=text)
        return
    except JiraFieldErrors as error:
        _show_form_again(acting, view.id, origin, answers, error)
        return
    except Exception as error:
        message = user_message_for(error)
        if message is None:
            log.exception("creating an issue failed")
        _show_form_again(acting, view.id, origin, answers, None, problem=message)
        return
    services.slack.update_view(created_view(origin, issue), view_id=view.id)
    creation.confirm(acting, origin, issue, whole_thread=answers.whole_thread)


def _draft(context: CreateContext, answers: Answers) -> IssueDraft:
    return IssueDraft(
        team_id=context.team_id,
        project_key=answers.project_key or "",
        issue_type_id=answers.issue_type_id or "",
        summary=answers.summary,
        description=answers.description,
        priority_id=answers.priority_id,
        assignee_slack_id=answers.assignee,
        extra={
            fid: extra_value(answers.extra_kinds[fid], raw) for fid, raw in answers.extra.items()
        },
    )


def _show_form_again(
    services: ConnectServices,
    view_id: str,
    context: CreateContext,
    answers: Answers,
    field_errors: JiraFieldErrors | None,
    *,
    problem: str | None = None,
) -> None:
    try:
        form = services.create_issue.form(answers.project_key, answers.issue_type_id)
    except Exception as error:
        problem_view = message_view(context, _failure_text(error, "show the form again"))
        services.slack.update_view(problem_view, view_id=view_id)
        return
    errors: dict[str, str] = {}
    if field_errors is not None:
        blocks = {**FIELD_BLOCKS, **{f.field_id: extra_block_id(f) for f in form.extra_fields}}
        for field_id, text in field_errors.errors.items():
            errors[blocks.get(field_id, field_id)] = cards.escape(text)
        said = "; ".join(field_errors.messages)
        problem = cards.escape(said) if said else "Jira did not accept some fields."
    view = form_view(context, form, answers, errors=errors, problem=problem)
    services.slack.update_view(view, view_id=view_id)


def _failure_text(error: Exception, doing: str) -> str:
    message = user_message_for(error)
    if message is None:
        log.exception("could not %s", doing)
        return f":warning: Connect could not {doing}; close this and try again."
    return message
