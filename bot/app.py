"""The Bolt app factory: listeners registered per kind, services reaching them via context."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from pydantic import ValidationError
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.middleware import Middleware
from slack_bolt.oauth import OAuthFlow
from slack_sdk import WebClient

from clients.slack_teams import current_team
from clients.slack_transport import SlackTransport
from handlers import register_listeners
from handlers.after_ack import AfterAck
from handlers.modal_opener import ModalOpener
from services.connect_services import ConnectServices

log = logging.getLogger("connect.slack")

# A payload of an unexpected shape surfaces as one of these in a listener or in Bolt's own
# middleware: answered 400, logged with its traceback in case the fault is ours.
BAD_INPUT_ERRORS = (ValidationError, KeyError, TypeError, ValueError, AttributeError, IndexError)


def create_app(
    *,
    services: ConnectServices,
    signing_secret: str,
    web_client: WebClient,
    transport: SlackTransport,
    after_ack: AfterAck,
    opener: ModalOpener,
    picker_pool: Executor,
    options_pool: Executor,
    oauth_flow: OAuthFlow | None = None,
    authorize: Authorize | None = None,
    before_authorize: Middleware | None = None,
) -> App:
    """Acks run in the request thread (process_before_response); each listener validates its
    payload, acks and submits slow work to `after_ack` (handlers.after_ack), which answers
    "busy, try again" when backed up. `opener` opens modals right after the ack;
    `picker_pool` and `options_pool` look up the options Slack takes in the HTTP answer.

    Listeners' `client` and `respond` send through `transport` (kept-alive connections, see
    clients/slack_transport), as services.slack does.

    Single workspace: the bot token comes with web_client.
    Multi-workspace: web_client has no token; `authorize` finds the workspace's installation
    and `oauth_flow` serves /slack/install and /slack/oauth_redirect.

    `before_authorize` sees every request first (SLACK_ALLOWED_TEAMS:
    bot.oauth.OnlyAllowedTeams)."""
    bolt_log = logging.getLogger("connect.bolt")
    bolt_log.addFilter(_drop_token_notice)
    app = App(
        signing_secret=signing_secret,
        client=web_client,
        process_before_response=True,
        # bot.web checks every Slack request's signature before Bolt sees it (and answers 401
        # itself); Bolt checking the same bytes again cost every ack a second HMAC.
        request_verification_enabled=False,
        token_verification_enabled=False,
        logger=bolt_log,
        oauth_flow=oauth_flow,
        # An Authorize instance is what Bolt wants beside an OAuth flow; its hint says Callable.
        authorize=authorize,  # type: ignore[arg-type]
        before_authorize=before_authorize,
    )
    app.use(InjectServices(services, transport, after_ack, opener))
    app.error(_answer_listener_error)
    register_listeners(app, picker_pool=picker_pool, options_pool=options_pool)
    return app


def _drop_token_notice(record: logging.LogRecord) -> bool:
    # Bolt also reads SLACK_BOT_TOKEN itself and warns that the client's copy wins: it is the same.
    return "`token` will be unused" not in record.getMessage()


class InjectServices(Middleware):
    """Puts the services, the work after acks and the modal opener in every request's
    context, Connect's Slack client as its `client` and `respond`, and the workspace being
    served where services.slack reads it. Class-based: Bolt calls it without building the
    thirty-odd listener arguments it offers a function middleware on every request."""

    def __init__(
        self,
        services: ConnectServices,
        transport: SlackTransport,
        after_ack: AfterAck,
        opener: ModalOpener,
    ) -> None:
        self.services = services
        self.transport = transport
        self.after_ack = after_ack
        self.opener = opener

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        context = req.context
        context["services"] = self.services
        # Where a listener hands the work for after its ack, and what opens its modals.
        context["after_ack"] = self.after_ack
        context["opener"] = self.opener
        # Which workspace services.slack acts in (multi-workspace mode); work after the ack
        # inherits it (handlers.after_ack copies the context).
        current_team.set(context.team_id)
        # Bolt builds a urllib WebClient per request, with the token its authorization found;
        # listeners get Connect's client for that token instead, made once and sending over
        # the transport's kept-alive connections (the same as services.slack's).
        client = self.transport.client(context.client.token, team_id=context.team_id)
        context["client"] = client
        # No listener answers through Bolt's `respond` (urllib, a connection per answer):
        # work after the ack answers a response_url through services.slack.respond.
        next()
        return resp


def _answer_listener_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    if isinstance(error, BAD_INPUT_ERRORS):
        log.warning("rejected a malformed Slack payload: %r", error, exc_info=error)
        return BoltResponse(
            status=400, body='{"error": "malformed payload", "code": "INVALID_PAYLOAD"}'
        )
    log.error("listener failed: %s", error, exc_info=error)
    return BoltResponse(status=500, body='{"error": "internal error", "code": "INTERNAL_ERROR"}')
