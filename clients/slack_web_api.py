"""`SlackClient` on slack_sdk's WebClient (sent through clients/slack_transport's kept-alive
connections): retries, error mapping and call metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

import aiohttp
from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from clients.call_observer import CallObserver, NullObserver
from clients.slack_client import (
    Blocks,
    PostedMessage,
    SlackChannel,
    SlackError,
    SlackNotInChannel,
    SlackUnavailable,
    SlackUser,
    error_for,
    metadata_matches,
)
from clients.slack_retry import retry_after_seconds
from clients.slack_transport import SlackTransport

log = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 200
HISTORY_MAX_PAGES = 10


class SlackWebApiClient:
    """SlackClient on slack_sdk's WebClient, with retries, error mapping and call metrics."""

    def __init__(
        self,
        token: str | SecretStr | None,
        *,
        base_url: str = "https://slack.com/api/",
        timeout: float = 10,
        observer: CallObserver | None = None,
        max_retries: int = 2,
        max_retry_wait: float = 5.0,
        transport: SlackTransport | None = None,
    ) -> None:
        """`transport`: the process's Slack connections (the composition root's, whose base
        URL, timeout and retries apply); without one, the client opens its own from the
        other arguments (and `close` closes it)."""
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._observer: CallObserver = observer or NullObserver()
        self._owns_transport = transport is None
        self.transport = transport or SlackTransport(
            base_url, timeout=timeout, max_retries=max_retries, max_retry_wait=max_retry_wait
        )
        # The client of the bot token when there is one (token-less in multi-workspace mode,
        # see clients/slack_teams).
        self.base_client: WebClient = self.transport.client(secret)

    def close(self) -> None:
        """Close the connections the client opened itself (none when given a transport)."""
        if self._owns_transport:
            self.transport.close()

    @property
    def web_client(self) -> WebClient:
        """The client each call goes through."""
        return self.base_client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_client.base_url!r})"

    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        unfurl: bool = False,
    ) -> PostedMessage:
        response = self._call(
            "chat.postMessage",
            lambda: self.web_client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=_plain(blocks),
                thread_ts=thread_ts,
                metadata=dict(metadata) if metadata is not None else None,
                unfurl_links=unfurl,
                unfurl_media=unfurl,
            ),
        )
        return PostedMessage(channel=str(response["channel"]), ts=str(response["ts"]))

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: Blocks | None = None
    ) -> None:
        self._call(
            "chat.update",
            lambda: self.web_client.chat_update(
                channel=channel, ts=ts, text=text, blocks=_plain(blocks)
            ),
        )

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
    ) -> None:
        self._call(
            "chat.postEphemeral",
            lambda: self.web_client.chat_postEphemeral(
                channel=channel, user=user, text=text, blocks=_plain(blocks), thread_ts=thread_ts
            ),
        )

    def get_permalink(self, channel: str, ts: str) -> str:
        response = self._call(
            "chat.getPermalink",
            lambda: self.web_client.chat_getPermalink(channel=channel, message_ts=ts),
        )
        return str(response["permalink"])

    def user_info(self, user_id: str) -> SlackUser:
        response = self._call("users.info", lambda: self.web_client.users_info(user=user_id))
        user: Mapping[str, Any] = response["user"]
        profile: Mapping[str, Any] = user.get("profile") or {}
        return SlackUser(
            id=str(user["id"]),
            team_id=str(user.get("team_id") or profile.get("team") or ""),
            name=str(user.get("name") or ""),
            real_name=str(user.get("real_name") or profile.get("real_name") or ""),
            display_name=str(profile.get("display_name") or ""),
            email=profile.get("email") or None,
            is_bot=bool(user.get("is_bot", False)),
            deleted=bool(user.get("deleted", False)),
        )

    def channel_info(self, channel: str) -> SlackChannel:
        response = self._call(
            "conversations.info", lambda: self.web_client.conversations_info(channel=channel)
        )
        data: Mapping[str, Any] = response["channel"]
        is_im = bool(data.get("is_im", False))
        return SlackChannel(
            id=str(data["id"]),
            name=str(data.get("name") or data.get("user") or ""),
            is_private=is_im or bool(data.get("is_private") or data.get("is_mpim")),
            is_im=is_im,
            is_member=bool(data.get("is_member", is_im)),
        )

    def is_member(self, channel: str, user_id: str) -> bool:
        cursor: str | None = None
        for _ in range(1000):  # 200,000 members: a bound, not a real limit
            response = self._call(
                "conversations.members",
                partial(
                    self.web_client.conversations_members,
                    channel=channel,
                    cursor=cursor,
                    limit=HISTORY_PAGE_SIZE,
                ),
            )
            if user_id in (response.get("members") or []):
                return True
            cursor = _next_cursor(response)
            if not cursor:
                return False
        return False

    def open_dm(self, user_id: str) -> str:
        response = self._call(
            "conversations.open", lambda: self.web_client.conversations_open(users=user_id)
        )
        return str(response["channel"]["id"])

    def find_message_by_metadata(
        self,
        channel: str,
        *,
        event_type: str,
        key_field: str,
        key: str,
        thread_ts: str | None = None,
        oldest: str | None = None,
    ) -> str | None:
        for message in self._messages(channel, thread_ts=thread_ts, oldest=oldest):
            if metadata_matches(
                message.get("metadata"), event_type=event_type, key_field=key_field, key=key
            ):
                return str(message["ts"])
        return None

    def unfurl(self, channel: str, ts: str, unfurls: Mapping[str, Any]) -> None:
        self._call(
            "chat.unfurl",
            lambda: self.web_client.chat_unfurl(channel=channel, ts=ts, unfurls=dict(unfurls)),
        )

    def unfurl_in_composer(self, unfurl_id: str, source: str, unfurls: Mapping[str, Any]) -> None:
        self._call(
            "chat.unfurl",
            lambda: self.web_client.chat_unfurl(
                unfurl_id=unfurl_id, source=source, unfurls=dict(unfurls)
            ),
        )

    def thread_messages(
        self, channel: str, thread_ts: str, *, oldest: str | None = None, limit: int = 1000
    ) -> list[Mapping[str, Any]]:
        found: list[Mapping[str, Any]] = []
        cursor: str | None = None
        while len(found) < limit:
            response = self._call(
                "conversations.replies",
                partial(
                    self.web_client.conversations_replies,
                    channel=channel,
                    ts=thread_ts,
                    limit=min(limit, HISTORY_PAGE_SIZE),
                    cursor=cursor,
                    oldest=oldest,
                    inclusive=True if oldest is not None else None,
                ),
            )
            page = [m for m in response.get("messages") or [] if isinstance(m, Mapping)]
            # Slack puts the parent at the top of every page.
            found += [m for m in page if not found or m.get("ts") != found[0].get("ts")]
            cursor = _next_cursor(response)
            if not cursor or not page:
                break
        return found[:limit]

    def update_view(
        self,
        view: Mapping[str, Any],
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> None:
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", "views.update needs a view_id or external_id")
        self._call(
            "views.update",
            lambda: self.web_client.views_update(
                view=dict(view), view_id=view_id, external_id=external_id, hash=hash
            ),
        )

    def publish_home(self, user_id: str, view: Mapping[str, Any]) -> None:
        self._call(
            "views.publish",
            lambda: self.web_client.views_publish(user_id=user_id, view=dict(view)),
        )

    def respond(self, response_url: str, message: Mapping[str, Any]) -> None:
        started = time.monotonic()
        try:
            answer = self.transport.post_to_response_url(response_url, message)
        except (OSError, aiohttp.ClientError, SlackClientError) as exc:
            self._observer.record(
                "slack", "response_url", "unavailable", time.monotonic() - started
            )
            reason = str(exc) or type(exc).__name__
            raise SlackUnavailable(
                "connection_error", f"Slack response_url failed: cannot reach Slack ({reason})"
            ) from None  # the cause carries the URL, which answers for the person
        outcome = "ok" if answer.status_code == 200 else "error"
        self._observer.record("slack", "response_url", outcome, time.monotonic() - started)
        if outcome != "ok":  # an expired URL (30 minutes, 5 answers): nothing more to do
            log.warning("Slack response_url answered HTTP %s", answer.status_code)

    def _messages(
        self, channel: str, *, thread_ts: str | None, oldest: str | None
    ) -> Iterator[Mapping[str, Any]]:
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            if thread_ts is not None:
                response = self._call(
                    "conversations.replies",
                    partial(
                        self.web_client.conversations_replies,
                        channel=channel,
                        ts=thread_ts,
                        cursor=cursor,
                        oldest=oldest,
                        include_all_metadata=True,
                        limit=HISTORY_PAGE_SIZE,
                    ),
                )
            else:
                response = self._call(
                    "conversations.history",
                    partial(
                        self.web_client.conversations_history,
                        channel=channel,
                        cursor=cursor,
                        oldest=oldest,
                        include_all_metadata=True,
                        limit=HISTORY_PAGE_SIZE,
                    ),
                )
            yield from response.get("messages") or []
            cursor = _next_cursor(response)
            if not cursor:
                return

    def _call(self, method: str, send: Callable[[], SlackResponse]) -> SlackResponse:
        started = time.monotonic()
        try:
            response = send()
        except SlackApiError as exc:
            failure = self._api_failure(method, exc)
        except (OSError, SlackClientError) as exc:
            reason = str(exc) or type(exc).__name__  # a timeout says nothing more
            failure = SlackUnavailable(
                "connection_error",
                self._scrub(f"Slack {method} failed: cannot reach Slack ({reason})"),
            )
        else:
            self._observer.record("slack", method, "ok", time.monotonic() - started)
            return response
        outcome = _outcome(failure)
        self._observer.record("slack", method, outcome, time.monotonic() - started)
        log.warning("Slack %s failed: %s", method, failure.error)
        raise failure from None  # the cause carries request details; keep them out of logs

    def _api_failure(self, method: str, exc: SlackApiError) -> SlackError:
        response = exc.response
        status = int(getattr(response, "status_code", 200) or 200)
        data = getattr(response, "data", None)
        code = str(data.get("error") or "unknown_error") if isinstance(data, dict) else ""
        if status == 429 or code == "ratelimited":
            retry_after = retry_after_seconds(getattr(response, "headers", None) or {})
            return SlackUnavailable(
                "ratelimited",
                f"Slack {method} failed: rate limited (retry after {retry_after or '?'} s)",
                retry_after=retry_after,
            )
        if status >= 500:
            return SlackUnavailable(f"http_{status}", f"Slack {method} failed: HTTP {status}")
        code = code or f"http_{status}"
        return error_for(code, self._scrub(f"Slack {method} failed: {code}"))

    def _scrub(self, text: str) -> str:
        token = self.web_client.token
        return text.replace(token, "[redacted]") if token else text


def _outcome(error: SlackError) -> str:
    if isinstance(error, SlackNotInChannel):
        return "not_in_channel"
    if isinstance(error, SlackUnavailable):
        return "rate_limited" if error.error == "ratelimited" else "unavailable"
    return "error"


def _next_cursor(response: SlackResponse) -> str | None:
    metadata = response.get("response_metadata") or {}
    cursor = metadata.get("next_cursor") if isinstance(metadata, Mapping) else None
    return str(cursor) if cursor else None


def _plain(blocks: Blocks | None) -> list[dict[str, Any]] | None:
    return [dict(block) for block in blocks] if blocks is not None else None
