"""`/jira subscribe | subscriptions | unsubscribe`: a channel following a project or filter."""

from __future__ import annotations

from handlers import blocks, cards
from handlers.command_request import CommandRequest, Message
from models.channels import EVENT_KINDS
from services.connect_services import ConnectServices
from services.subscriptions.service import (
    SubscriptionService,
    SubscriptionView,
    parse_subscribe,
    parse_subscription_number,
)


def subscribe(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    wanted = parse_subscribe(
        slack_text(request.invocation.rest), usage=services.parser.usage_of("subscribe")
    )
    outcome = _service(services).subscribe(
        command.team_id, command.channel_id, command.user_id, wanted
    )
    view = outcome.subscription
    if outcome.created:
        return blocks.ephemeral(
            f":white_check_mark: Subscribed this channel (#{view.number}) to {describe(view)}. "
            "Each issue gets one post here; later events reply in its thread."
        )
    if outcome.changed_kinds:
        return blocks.ephemeral(f"Updated subscription #{view.number}: {describe(view)}.")
    return blocks.ephemeral(f"This channel already follows that (#{view.number}).")


def subscriptions(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    page = blocks.page_number(request.invocation.args)
    return subscriptions_page(services, command.team_id, command.channel_id, page)


def subscriptions_page(
    services: ConnectServices, team_id: str, channel_id: str, page: int
) -> Message:
    found = _service(services).channel_subscriptions(team_id, channel_id)
    if not found:
        return blocks.ephemeral(
            "This channel has no subscriptions. Try `/jira subscribe PROJECT [JQL]`."
        )
    lines = [f"• *#{view.number}* {describe(view)} — by <@{view.created_by}>" for view in found]
    return blocks.paged_list(
        "This channel follows:",
        lines,
        page=page,
        list_name="subscriptions",
        footer="Remove one with `/jira unsubscribe ID`.",
    )


def unsubscribe(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    number = parse_subscription_number(
        request.invocation.args[0], usage=services.parser.usage_of("unsubscribe")
    )
    view = _service(services).unsubscribe(
        command.team_id, command.channel_id, command.user_id, number
    )
    return blocks.ephemeral(
        f"Removed subscription #{view.number} ({describe(view)}): it posts here no more."
    )


def describe(view: SubscriptionView) -> str:
    """`project *OPS* matching `priority = High`, created and commented events`."""
    parts = []
    if view.project_key:
        parts.append(f"project *{view.project_key}*")
    if view.jql:
        jql = cards.escape(view.jql.replace("`", "'"))[:300]
        parts.append(f"issues matching `{jql}`" if not parts else f"matching `{jql}`")
    kinds = "all events" if set(view.kinds) >= set(EVENT_KINDS) else ", ".join(view.kinds)
    return f"{' '.join(parts)} ({kinds})"


def slack_text(text: str) -> str:
    """Slash command text arrives with Slack's escapes (`&lt;` for `<`); JQL needs them back."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _service(services: ConnectServices) -> SubscriptionService:
    return SubscriptionService(services.uow, services.jira, services.slack, services.policy)
