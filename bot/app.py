"""The Bolt app factory: listeners registered per kind, services reaching them via context."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from pydantic import ValidationError
from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.oauth import OAuthFlow
from slack_sdk import WebClient

from bot.lazy_requests import use_shallow_lazy_requests
from clients.slack_http import pooled_copy
from clients.slack_teams import current_team
from handlers import register_listeners
from services.context import ConnectServices

log = logging.getLogger("connect.slack")

# A payload of an unexpected shape surfaces as one of these in a listener or in Bolt's own
# middleware: answered 400, logged with its traceback in case the fault is ours.
BAD_INPUT_ERRORS = (ValidationError, KeyError, TypeError, ValueError, AttributeError, IndexError)


def create_app(
    *,
    services: ConnectServices,
    signing_secret: str,
    web_client: WebClient,
    executor: Executor,
    oauth_flow: OAuthFlow | None = None,
    authorize: Authorize | None = None,
) -> App:
    """Acks run in the request thread (process_before_response); slow work goes to `executor`
    through lazy listeners, so Bolt's 5-thread pool never stands between Slack and its ack.

    Single workspace: the bot token comes with web_client (Slack API URL, retry handlers).
    Multi-workspace: web_client has no token; `authorize` finds the workspace's installation
    and `oauth_flow` serves /slack/install and /slack/oauth_redirect."""
    bolt_log = logging.getLogger("connect.bolt")
    bolt_log.addFilter(_drop_token_notice)
    app = App(
        signing_secret=signing_secret,
        client=web_client,
        process_before_response=True,
        listener_executor=executor,
        token_verification_enabled=False,
        logger=bolt_log,
        oauth_flow=oauth_flow,
        # An Authorize instance is what Bolt wants beside an OAuth flow; its hint says Callable.
        authorize=authorize,  # type: ignore[arg-type]
    )
    use_shallow_lazy_requests(app)  # a lazy listener's copy of the request costs the ack less
    app.use(_inject(services))
    app.error(_answer_listener_error)
    register_listeners(app)
    return app


def _drop_token_notice(record: logging.LogRecord) -> bool:
    # Bolt also reads SLACK_BOT_TOKEN itself and warns that the client's copy wins: it is the same.
    return "`token` will be unused" not in record.getMessage()


def _inject(services: ConnectServices) -> Callable[..., Any]:
    def inject_services(context: BoltContext, next: Callable[[], None]) -> None:
        context["services"] = services
        # Multi-workspace mode: Bolt builds a urllib WebClient per request for the workspace's
        # token; listeners call Slack through a kept-alive one instead (clients/slack_http).
        context["client"] = pooled_copy(context.client)
        # Which workspace services.slack acts in (multi-workspace mode); lazy listeners
        # inherit it through the executor (bot.context_executor).
        current_team.set(context.team_id)
        next()

    return inject_services


def _answer_listener_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    if isinstance(error, BAD_INPUT_ERRORS):
        log.warning("rejected a malformed Slack payload: %r", error, exc_info=error)
        return BoltResponse(
            status=400, body='{"error": "malformed payload", "code": "INVALID_PAYLOAD"}'
        )
    log.error("listener failed: %s", error, exc_info=error)
    return BoltResponse(status=500, body='{"error": "internal error", "code": "INTERNAL_ERROR"}')
