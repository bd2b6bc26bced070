"""The create-issue modal: pure builders (data in, view dict out) and reading its answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pydantic import TypeAdapter

from clients.jira_client import JiraIssue
from handlers import cards
from handlers.conversation import wants_whole_thread, whole_thread_input
from services.issues.create import SUMMARY_MAX, CreateForm, ExtraField

CALLBACK_ID = "create_issue_modal"
PROJECT_ACTION = "create_project"
TYPE_ACTION = "create_issue_type"
TITLE = "Create Jira issue"
DESCRIPTION_MAX = 3000  # Slack's limit for a plain_text_input value

View = dict[str, Any]


@dataclass
class CreateContext:
    """Where the modal came from; travels in private_metadata (Slack keeps ≤ 3,000 chars)."""

    source: str  # command | global | message
    team_id: str
    user_id: str
    channel_id: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    message_author: str | None = None
    response_url: str | None = None
    private_source: bool = False
    # Messages in the source message's thread (0: none): over 1 offers the whole thread.
    thread_size: int = 0

    def dump(self) -> str:
        # Every field is a str, bool or None: read them directly (asdict deep-copies each).
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps({k: v for k, v in values.items() if v not in (None, False)})

    @classmethod
    def load(cls, raw: str) -> CreateContext:
        """Read back from private_metadata; what Connect did not write there (a payload made
        up by hand) fails as pydantic's ValidationError, bad input like any other."""
        return _CONTEXT.validate_json(raw or "{}")


_CONTEXT = TypeAdapter(CreateContext)


@dataclass
class Answers:
    """What the person typed or picked so far (kept when the form is re-rendered)."""

    project_key: str | None = None
    issue_type_id: str | None = None
    summary: str = ""
    description: str = ""
    priority_id: str | None = None
    assignee: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # field id -> raw answer
    extra_kinds: dict[str, str] = field(default_factory=dict)  # field id -> input kind
    whole_thread: bool = False  # "Include the whole thread" ticked (SPEC §13)


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:150], "emoji": True}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _text(label[:75]), "value": value[:150]}


def _modal(context: CreateContext, blocks: list[dict[str, Any]], *, submit: bool) -> View:
    view: View = {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _text(TITLE),
        "close": _text("Cancel" if submit else "Close"),
        "private_metadata": context.dump(),
        "blocks": blocks,
    }
    if submit:
        view["submit"] = _text("Create")
    return view


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def loading_view(context: CreateContext) -> View:
    return _modal(
        context, [_note(":hourglass_flowing_sand: Loading projects from Jira…")], submit=False
    )


def message_view(context: CreateContext, text: str) -> View:
    return _modal(
        context, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], submit=False
    )


def created_view(context: CreateContext, issue: JiraIssue) -> View:
    done = {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": f":white_check_mark: Created {cards.issue_title(issue)}",
        },
    }
    return _modal(context, [done, *cards.issue_card(issue)[1:]], submit=False)


def _select(
    action_id: str, options: list[dict[str, Any]], selected: str | None, placeholder: str
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": _text(placeholder),
        "options": options[:100],
    }
    chosen = next((o for o in element["options"] if o["value"] == selected), None)
    if chosen:
        element["initial_option"] = chosen
    return element


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    dispatch: bool = False,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
        "optional": optional,
    }
    if dispatch:
        block["dispatch_action"] = True
    return block


def form_view(
    context: CreateContext,
    form: CreateForm,
    answers: Answers,
    *,
    errors: Mapping[str, str] | None = None,
    problem: str | None = None,
) -> View:
    """The whole form. `errors` (block id -> mrkdwn) show under their field; `problem` (mrkdwn)
    on top: Jira's words in them come escaped."""
    errors = errors or {}
    blocks: list[dict[str, Any]] = []
    if problem:
        blocks.append(_note(f":warning: {problem}"))
    blocks.append(
        _input(
            "project",
            "Project",
            _select(
                PROJECT_ACTION,
                [_option(p.key, f"{p.name} ({p.key})") for p in form.projects],
                form.project.key,
                "Choose a project",
            ),
            dispatch=True,
        )
    )
    blocks.append(
        _input(
            "issue_type",
            "Issue type",
            _select(
                TYPE_ACTION,
                [_option(t.id, t.name) for t in form.issue_types],
                form.issue_type.id,
                "Choose a type",
            ),
            dispatch=True,
        )
    )
    summary: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "summary",
        "max_length": SUMMARY_MAX,
    }
    if answers.summary:
        summary["initial_value"] = answers.summary[:SUMMARY_MAX]
    blocks.append(_input("summary", "Summary", summary))
    description: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "description",
        "multiline": True,
        "max_length": DESCRIPTION_MAX,
    }
    if answers.description:
        description["initial_value"] = answers.description[:DESCRIPTION_MAX]
    blocks.append(_input("description", "Description", description, optional=True))
    if context.thread_size > 1:
        blocks.append(whole_thread_input(context.thread_size))
    blocks.append(
        _input(
            "priority",
            "Priority",
            _select(
                "priority",
                [_option(p.id, p.name) for p in form.priorities],
                answers.priority_id,
                "Jira's default",
            ),
            optional=True,
        )
    )
    assignee: dict[str, Any] = {
        "type": "users_select",
        "action_id": "assignee",
        "placeholder": _text("Unassigned"),
    }
    if answers.assignee:
        assignee["initial_user"] = answers.assignee
    blocks.append(_input("assignee", "Assignee", assignee, optional=True))
    for extra in form.extra_fields:
        blocks.append(
            _input(
                extra_block_id(extra),
                extra.name,
                _extra_element(extra, answers.extra.get(extra.field_id)),
            )
        )
    if context.private_source:
        blocks.append(
            _note(
                ":lock: This message is from a private conversation. Its text (and its files, "
                "which are attached) will be visible to everyone who can see the Jira issue."
            )
        )
    for block_id, text in errors.items():
        index = next((i for i, b in enumerate(blocks) if b.get("block_id") == block_id), None)
        note = _note(f":warning: {text}")
        if index is None:
            blocks.insert(0, note)
        else:
            blocks.insert(index + 1, note)
    return _modal(context, blocks, submit=True)


def extra_block_id(extra: ExtraField) -> str:
    return f"extra:{extra.kind}:{extra.field_id}"


def _extra_element(extra: ExtraField, answer: Any) -> dict[str, Any]:
    options = [_option(value, label) for value, label in extra.choices]
    if extra.kind == "option":
        return _select("value", options, answer, "Choose…")
    if extra.kind == "options":
        element: dict[str, Any] = {
            "type": "multi_static_select",
            "action_id": "value",
            "options": options[:100],
        }
        chosen = [o for o in element["options"] if o["value"] in (answer or [])]
        if chosen:
            element["initial_options"] = chosen
        return element
    if extra.kind == "number":
        number: dict[str, Any] = {
            "type": "number_input",
            "action_id": "value",
            "is_decimal_allowed": True,
        }
        if answer is not None:
            number["initial_value"] = str(answer)
        return number
    if extra.kind == "date":
        date: dict[str, Any] = {"type": "datepicker", "action_id": "value"}
        if answer:
            date["initial_date"] = answer
        return date
    if extra.kind == "user":
        user: dict[str, Any] = {"type": "users_select", "action_id": "value"}
        if answer:
            user["initial_user"] = answer
        return user
    text: dict[str, Any] = {"type": "plain_text_input", "action_id": "value"}
    if answer:
        text["initial_value"] = str(answer)
    return text


def read_answers(state: Mapping[str, Any]) -> Answers:
    """`view.state.values` → Answers; missing or odd entries read as empty."""
    values = state.get("values")
    if not isinstance(values, Mapping):
        values = {}

    def element(block_id: str, action_id: str) -> Mapping[str, Any]:
        block = values.get(block_id)
        found = block.get(action_id) if isinstance(block, Mapping) else None
        return found if isinstance(found, Mapping) else {}

    def selected(block_id: str, action_id: str) -> str | None:
        option = element(block_id, action_id).get("selected_option")
        return str(option["value"]) if isinstance(option, Mapping) and option.get("value") else None

    answers = Answers(
        project_key=selected("project", PROJECT_ACTION),
        issue_type_id=selected("issue_type", TYPE_ACTION),
        summary=str(element("summary", "summary").get("value") or ""),
        description=str(element("description", "description").get("value") or ""),
        priority_id=selected("priority", "priority"),
        assignee=element("assignee", "assignee").get("selected_user") or None,
        whole_thread=wants_whole_thread(values),
    )
    for block_id, actions in values.items():
        if not block_id.startswith("extra:") or not isinstance(actions, Mapping):
            continue
        if block_id.count(":") < 2:
            continue
        _, kind, field_id = block_id.split(":", 2)
        raw = actions.get("value")
        answer = _extra_answer(kind, raw if isinstance(raw, Mapping) else {})
        if answer not in (None, "", []):
            answers.extra[field_id] = answer
            answers.extra_kinds[field_id] = kind
    return answers


def _extra_answer(kind: str, raw: Mapping[str, Any]) -> Any:
    if kind == "option":
        option = raw.get("selected_option")
        return option.get("value") if isinstance(option, Mapping) else None
    if kind == "options":
        return [o.get("value") for o in raw.get("selected_options") or [] if isinstance(o, Mapping)]
    if kind == "date":
        return raw.get("selected_date")
    if kind == "user":
        return raw.get("selected_user")
    return raw.get("value")
