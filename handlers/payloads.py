"""The parts of Slack payloads Connect reads, validated (a bad body is a 400, not a crash)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


def _http_url(value: str) -> str:
    """Slack's response_urls are https URLs (http on a test's 127.0.0.1). Anything else would
    only fail later, after the ack, inside slack_sdk, where no one can be told."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("is not an http(s) URL")
    return value


ResponseUrl = Annotated[str, AfterValidator(_http_url)]


class SlackPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SlashCommand(SlackPayload):
    command: str
    text: str = ""
    team_id: str
    channel_id: str
    user_id: str
    response_url: ResponseUrl | None = None
    trigger_id: str | None = None


class _Ref(SlackPayload):
    id: str | None = None


# Bolt reads these ids as a string or an object with an `id` (and `"id" in value` crashes on
# anything else) while it builds the request context, before any listener could refuse them.
_IdOrRef = str | _Ref | None


class _Nested(SlackPayload):
    """The ids Bolt looks for at any level of a body (the body, its event, an authorization,
    a message inside an event)."""

    user: _IdOrRef = None
    channel: _IdOrRef = None
    team: _IdOrRef = None
    enterprise: _IdOrRef = None
    organization: _IdOrRef = None


class _Event(_Nested):
    type: str | None = None
    item: _Nested | None = None
    message: _Nested | None = None
    previous_message: _Nested | None = None
    assistant_thread: _Nested | None = None


class EventsEnvelope(_Nested):
    """An Events API body: the shapes Bolt's own middleware assumes before any listener runs."""

    type: str
    team_id: str | None = None
    api_app_id: str | None = None
    event_id: str | None = None
    # Absent is fine; `"event": null` is not (Bolt reads body.get("event", {}).get(...)).
    event: _Event = _Event()
    authorizations: list[_Nested] | None = None
    enterprise_id: str | None = None


class _ResponseUrlEntry(SlackPayload):
    response_url: ResponseUrl | None = None


class CommandForm(SlackPayload):
    """A slash command's form fields, likewise: only what Bolt or a later step would trip on."""

    response_url: ResponseUrl | None = None


class _ViewShape(SlackPayload):
    type: str  # Bolt's own checks read view["type"] before any listener runs
    id: str | None = None


class InteractionEnvelope(_Nested):
    """An interactivity or options `payload`, likewise."""

    type: str
    team: _Ref | None = None
    user: _Ref | None = None
    channel: _Ref | None = None
    enterprise: _Ref | None = None
    view: _ViewShape | None = None
    # Bolt takes actions[0] of block_actions: an empty list is as bad as none.
    actions: Annotated[list[dict[str, object]], Field(min_length=1)] | None = None
    container: dict[str, object] | None = None
    message: _Nested | None = None
    authorizations: list[_Nested] | None = None
    response_url: ResponseUrl | None = None
    # Bolt takes response_urls[0]["response_url"] when there is no response_url.
    response_urls: list[_ResponseUrlEntry] = []

    @field_validator("view", "actions", "container", "message", mode="before")
    @classmethod
    def _present_means_not_null(cls, value: object) -> object:
        # Absent is fine; Bolt tests `"view" in body` and then reads body["view"][...].
        if value is None:
            raise ValueError("is null")
        return value


class _Action(SlackPayload):
    action_id: str
    value: str | None = None
    block_id: str | None = None


class BlockAction(SlackPayload):
    team: _Ref
    user: _Ref
    channel: _Ref | None = None
    actions: list[_Action]
    response_url: ResponseUrl | None = None
    trigger_id: str | None = None

    @property
    def action(self) -> _Action:
        return self.actions[0]


class _View(SlackPayload):
    id: str
    hash: str | None = None
    callback_id: str | None = None
    private_metadata: str = ""
    state: dict[str, object] = {}


class ViewSubmission(SlackPayload):
    team: _Ref
    user: _Ref
    view: _View


class ViewAction(SlackPayload):
    """A block action inside a modal (a select with dispatch_action)."""

    team: _Ref
    user: _Ref
    view: _View


class _Message(SlackPayload):
    ts: str
    text: str = ""
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None


class Shortcut(SlackPayload):
    """A global shortcut (`shortcut`) or a message shortcut (`message_action`)."""

    type: str
    callback_id: str
    trigger_id: str
    team: _Ref
    user: _Ref
    channel: _Ref | None = None
    message: _Message | None = None
    response_url: ResponseUrl | None = None


# -- events, card actions and options (previews, buttons, App Home, mentions) ----------------


class EventCallback(SlackPayload):
    team_id: str = ""
    event_id: str | None = None
    event: dict[str, object]


class MessageEvent(SlackPayload):
    type: str
    channel: str
    ts: str
    user: str | None = None
    text: str = ""
    subtype: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    channel_type: str | None = None
    hidden: bool = False


class _SharedLink(SlackPayload):
    url: str
    domain: str = ""


class LinkShared(SlackPayload):
    channel: str
    message_ts: str
    links: list[_SharedLink]
    user: str | None = None
    thread_ts: str | None = None
    source: str | None = None  # "composer" while the message is still being written
    unfurl_id: str | None = None


class AppHomeOpened(SlackPayload):
    user: str
    tab: str = "home"


class AppMention(SlackPayload):
    channel: str
    ts: str
    text: str = ""
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None


class _Option(SlackPayload):
    value: str


class _CardActionItem(SlackPayload):
    action_id: str
    block_id: str | None = None
    value: str | None = None
    selected_option: _Option | None = None


class _CheckboxesItem(SlackPayload):
    action_id: str
    selected_options: list[_Option] = []


class CheckboxesAction(SlackPayload):
    """A `checkboxes` element changed: every option now ticked (App Home's switches)."""

    team: _Ref
    user: _Ref
    actions: list[_CheckboxesItem]

    @property
    def ticked(self) -> list[str]:
        return [option.value for option in self.actions[0].selected_options]


class _Container(SlackPayload):
    type: str = ""
    message_ts: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    is_ephemeral: bool = False
    is_app_unfurl: bool = False
    app_unfurl_url: str | None = None
    view_id: str | None = None


class _CardMessage(SlackPayload):
    ts: str
    text: str = ""
    thread_ts: str | None = None
    blocks: list[dict[str, object]] = []


class _CardView(SlackPayload):
    id: str
    hash: str | None = None
    type: str = "modal"
    title: dict[str, object] | None = None
    close: dict[str, object] | None = None
    submit: dict[str, object] | None = None
    callback_id: str | None = None
    private_metadata: str = ""
    blocks: list[dict[str, object]] = []


class CardAction(SlackPayload):
    """A button or select on an issue card: in a message, an ephemeral, an unfurl or a modal."""

    team: _Ref
    user: _Ref
    actions: list[_CardActionItem]
    channel: _Ref | None = None
    container: _Container = _Container()
    message: _CardMessage | None = None
    view: _CardView | None = None
    response_url: ResponseUrl | None = None
    trigger_id: str | None = None

    @property
    def action(self) -> _CardActionItem:
        return self.actions[0]


class OptionsRequest(SlackPayload):
    """block_suggestion: what the person typed into an external select."""

    team: _Ref
    user: _Ref
    action_id: str
    block_id: str = ""
    value: str = ""
