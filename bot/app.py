"""The Bolt app factory: listeners registered per kind, services reaching them via context."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

from pydantic import ValidationError
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_bolt.middleware import Middleware
from slack_bolt.oauth import OAuthFlow
from slack_sdk import WebClient
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookResponse

from bot.lazy_requests import use_shallow_lazy_requests
from bot.listener_matching import use_direct_matchers
from clients.slack_http import PooledWebhookClient, pooled
from clients.slack_teams import current_team
from handlers import register_listeners
from services.context import ConnectServices

log = logging.getLogger("connect.slack")

P = ParamSpec("P")
T = TypeVar("T")

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
    backlog_limit: int | None = None,
    on_turned_away: Callable[[str], None] | None = None,
    before_authorize: Middleware | None = None,
) -> App:
    """Acks run in the request thread (process_before_response); slow work goes to `executor`
    through lazy listeners, so Bolt's 5-thread pool never stands between Slack and its ack.

    Single workspace: the bot token comes with web_client (Slack API URL, retry handlers).
    Multi-workspace: web_client has no token; `authorize` finds the workspace's installation
    and `oauth_flow` serves /slack/install and /slack/oauth_redirect.

    Past `backlog_limit` tasks waiting in `executor` (its `backlog`), acks that would queue
    more answer "try again" instead (handlers.backlog); `on_turned_away` hears of each, by
    the lazy listener that did not run. `before_authorize` sees every request first
    (SLACK_ALLOWED_TEAMS: bot.oauth.OnlyAllowedTeams)."""
    bolt_log = logging.getLogger("connect.bolt")
    bolt_log.addFilter(_drop_token_notice)
    app = App(
        signing_secret=signing_secret,
        client=web_client,
        process_before_response=True,
        # bot.web checks every Slack request's signature before Bolt sees it (and answers 401
        # itself); Bolt checking the same bytes again cost every ack a second HMAC.
        request_verification_enabled=False,
        listener_executor=executor,
        token_verification_enabled=False,
        logger=bolt_log,
        oauth_flow=oauth_flow,
        # An Authorize instance is what Bolt wants beside an OAuth flow; its hint says Callable.
        authorize=authorize,  # type: ignore[arg-type]
        before_authorize=before_authorize,
    )
    # A lazy listener's copy of the request costs the ack less; an ack can skip its own.
    use_shallow_lazy_requests(app, on_turned_away=on_turned_away)
    app.use(InjectServices(services, SharedExecutor(executor, backlog_limit)))
    app.error(_answer_listener_error)
    register_listeners(app)
    use_direct_matchers(app)  # after every listener is registered
    return app


def _drop_token_notice(record: logging.LogRecord) -> bool:
    # Bolt also reads SLACK_BOT_TOKEN itself and warns that the client's copy wins: it is the same.
    return "`token` will be unused" not in record.getMessage()


class InjectServices(Middleware):
    """Puts the services in every request's context, and the workspace being served where
    services.slack reads it. Class-based: Bolt calls it without building the thirty-odd
    listener arguments it offers a function middleware on every request."""

    def __init__(self, services: ConnectServices, work_executor: SharedExecutor) -> None:
        self.services = services
        self.work_executor = work_executor

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        context = req.context
        context["services"] = self.services
        # Where a listener's ack hands work for after it (the lazy listeners' executor).
        context["work_executor"] = self.work_executor
        # Which workspace services.slack acts in (multi-workspace mode); lazy listeners
        # inherit it through the executor (bot.context_executor).
        current_team.set(context.team_id)
        # Bolt builds a urllib WebClient per request (with the workspace's token in
        # multi-workspace mode); listeners call Slack through kept-alive connections instead
        # (clients/slack_http).
        context["client"] = pooled(context.client)
        if context.response_url:  # likewise for `respond` (Bolt's posts with urllib)
            context["respond"] = PooledRespond(
                response_url=context.response_url,
                proxy=context.client.proxy,
                ssl=context.client.ssl,
            )
        next()
        return resp


class SharedExecutor(Executor):
    """The executor for work after an ack, as listeners find it in Bolt's context. Bolt
    deep-copies a request's context for its lazy listeners: an executor is shared, not copied
    (it cannot be: Bolt then logged a warning for every lazy listener, after a failed try).

    `busy` (what handlers.backlog asks) once `limit` tasks wait in an executor that counts
    them (bot.context_executor's `backlog`); never without a limit."""

    def __init__(self, executor: Executor, limit: int | None = None) -> None:
        self._executor = executor
        self._limit = limit

    @property
    def busy(self) -> bool:
        backlog = getattr(self._executor, "backlog", None)
        return self._limit is not None and backlog is not None and backlog >= self._limit

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self._executor.submit(fn, *args, **kwargs)

    def __deepcopy__(self, memo: dict[int, object]) -> SharedExecutor:
        return self


class PooledRespond(Respond):
    """Bolt's `respond`, posting to the response_url over a kept-alive connection
    (clients/slack_http) instead of a new urllib connection per answer."""

    def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        client = PooledWebhookClient(url=self.response_url, proxy=self.proxy, ssl=self.ssl)
        return client.send_dict(message)


def _answer_listener_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    if isinstance(error, BAD_INPUT_ERRORS):
        log.warning("rejected a malformed Slack payload: %r", error, exc_info=error)
        return BoltResponse(
            status=400, body='{"error": "malformed payload", "code": "INVALID_PAYLOAD"}'
        )
    log.error("listener failed: %s", error, exc_info=error)
    return BoltResponse(status=500, body='{"error": "internal error", "code": "INTERNAL_ERROR"}')
