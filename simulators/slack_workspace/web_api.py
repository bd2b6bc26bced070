"""The Slack Web API methods Connect uses, answered from an InMemorySlack the way Slack answers.

Transport, recording and failure injection live in `simulators.slack_workspace.server`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clients.slack_client import SlackError
from simulators.slack_workspace.memory import InMemorySlack
from simulators.slack_workspace.transcript import SlackMessage
from simulators.slack_workspace.views import APP_ID, ApiError, FakeViews, required

JSON_PARAMS = frozenset(
    {"blocks", "attachments", "metadata", "view", "unfurls", "user_auth_blocks"}
)


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, as auth.test tells it."""

    team_id: str
    team: str
    user_id: str
    user: str
    bot_id: str | None


def decode_params(params: dict[str, Any]) -> dict[str, Any]:
    """Form-encoded calls carry blocks, views and metadata as JSON strings; decode them."""
    decoded = dict(params)
    for name in JSON_PARAMS & decoded.keys():
        value = decoded[name]
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                decoded[name] = json.loads(value)
    return decoded


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class FakeSlackApi:
    """Method name -> handler over one workspace; every token sees the same workspace."""

    def __init__(self, slack: InMemorySlack) -> None:
        self.slack = slack
        self.tokens: dict[str, Identity] = {}
        self.views = FakeViews(slack)
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.oauth_answer: dict[str, Any] | None = None
        # Socket Mode: app-level tokens (xapp-) and who hands out WebSocket URLs for them.
        self.app_tokens: set[str] = set()
        self.socket_mode_url: Callable[[], str] | None = None
        self._lock = threading.RLock()
        self.handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": lambda p: {},  # answered from the token in `call`
            "auth.revoke": lambda p: {},  # likewise
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "chat.unfurl": self.chat_unfurl,
            "users.info": self.users_info,
            "users.lookupByEmail": self.users_lookup_by_email,
            "conversations.info": self.conversations_info,
            "conversations.members": self.conversations_members,
            "conversations.open": self.conversations_open,
            "conversations.replies": self.conversations_replies,
            "conversations.history": self.conversations_history,
            "conversations.join": self.conversations_join,
            "views.open": lambda p: self.views.open(p, pushed=False),
            "views.push": lambda p: self.views.open(p, pushed=True),
            "views.update": self.views.update,
            "views.publish": self.views.publish,
        }

    def add_token(self, token: str, identity: Identity | None = None) -> None:
        slack = self.slack
        self.tokens[token] = identity or Identity(
            slack.team_id,
            slack.team_domain,
            slack.bot_user_id,
            slack.bot_name.lower(),
            slack.bot_id,
        )

    def call(self, method: str, params: dict[str, Any], *, token: str | None) -> dict[str, Any]:
        """Slack's JSON answer to one call (ok or not); the HTTP status is always 200 here."""
        try:
            if method == "oauth.v2.access":
                return self.oauth_v2_access(params)
            if method == "apps.connections.open":
                return self.apps_connections_open(token)
            handler = self.handlers.get(method)
            if handler is None:
                raise ApiError("unknown_method")
            if not token:
                raise ApiError("not_authed")
            identity = self.tokens.get(token)
            if identity is None:
                raise ApiError("invalid_auth")
            if method == "auth.test":
                return {"ok": True, **self._auth_test(identity)}
            if method == "auth.revoke":  # the token stops working at once, as at Slack
                del self.tokens[token]
                return {"ok": True, "revoked": True}
            with self._lock:
                return {"ok": True, **handler(params)}
        except (ApiError, SlackError) as exc:
            return {"ok": False, "error": exc.error}

    # -- auth ---------------------------------------------------------------------------------

    def _auth_test(self, identity: Identity) -> dict[str, Any]:
        answer = {
            "url": f"https://{self.slack.team_domain}.slack.com/",
            "team": identity.team,
            "user": identity.user,
            "team_id": identity.team_id,
            "user_id": identity.user_id,
            "is_enterprise_install": False,
        }
        return answer | ({"bot_id": identity.bot_id} if identity.bot_id else {})

    def oauth_v2_access(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.client_id is not None and (
            params.get("client_id") != self.client_id
            or params.get("client_secret") != self.client_secret
        ):
            raise ApiError("invalid_client_id")
        required(params, "code", "invalid_code")
        answer = self.oauth_answer or self.default_oauth_answer()
        if answer.get("ok") and answer.get("access_token"):
            team = answer.get("team") or {}
            self.tokens[str(answer["access_token"])] = Identity(
                str(team.get("id", self.slack.team_id)),
                str(team.get("name", self.slack.team_domain)),
                str(answer.get("bot_user_id", self.slack.bot_user_id)),
                self.slack.bot_name.lower(),
                self.slack.bot_id,
            )
        return answer

    def default_oauth_answer(self) -> dict[str, Any]:
        return {
            "ok": True,
            "access_token": "xoxb-installed-token",
            "token_type": "bot",
            "scope": "commands,chat:write,links:read,links:write,users:read,users:read.email",
            "bot_user_id": self.slack.bot_user_id,
            "app_id": APP_ID,
            "team": {"id": self.slack.team_id, "name": self.slack.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": "UINSTALLER"},
        }

    # -- socket mode --------------------------------------------------------------------------

    def apps_connections_open(self, token: str | None) -> dict[str, Any]:
        """A fresh WebSocket URL; only an app-level token may ask, as at Slack."""
        if not token:
            raise ApiError("not_authed")
        if token in self.tokens:  # a bot token
            raise ApiError("not_allowed_token_type")
        if token not in self.app_tokens:
            raise ApiError("invalid_auth")
        if self.socket_mode_url is None:  # the stand-in's own code: nobody listens for sockets
            raise ApiError("socket_mode_not_enabled")
        return {"ok": True, "url": self.socket_mode_url()}

    # -- chat ---------------------------------------------------------------------------------

    def chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        posted = self.slack.post_message(
            required(params, "channel", "channel_not_found"),
            text=str(params.get("text") or ""),
            blocks=params.get("blocks"),
            thread_ts=params.get("thread_ts") or None,
            metadata=params.get("metadata"),
            unfurl=_flag(params.get("unfurl_links")),
        )
        return {"channel": posted.channel, "ts": posted.ts, "message": self._message(posted)}

    def chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = required(params, "channel", "channel_not_found"), required(params, "ts")
        text = str(params.get("text") or "")
        self.slack.update_message(channel, ts, text=text, blocks=params.get("blocks"))
        message = self.slack.message(channel, ts)
        return {"channel": channel, "ts": ts, "text": text, "message": self._api(message)}

    def chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self.slack.post_ephemeral(
            required(params, "channel", "channel_not_found"),
            required(params, "user", "user_not_found"),
            text=str(params.get("text") or ""),
            blocks=params.get("blocks"),
            thread_ts=params.get("thread_ts") or None,
        )
        return {"message_ts": self.slack.ephemerals[-1].message_ts}

    def chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = required(params, "channel", "channel_not_found")
        link = self.slack.get_permalink(channel, required(params, "message_ts"))
        return {"channel": channel, "permalink": link}

    def chat_unfurl(self, params: dict[str, Any]) -> dict[str, Any]:
        unfurls = params.get("unfurls")
        if not isinstance(unfurls, dict):
            raise ApiError("invalid_unfurls_format")
        if params.get("channel") and params.get("ts"):
            self.slack.unfurl(str(params["channel"]), str(params["ts"]), unfurls)
        else:  # link_shared from the message composer: unfurl_id + source
            unfurl_id = required(params, "unfurl_id", "cannot_find_message")
            self.slack.unfurl_in_composer(unfurl_id, str(params.get("source", "")), unfurls)
        return {}

    # -- users --------------------------------------------------------------------------------

    def users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "user": self._user(self.slack.user_info(required(params, "user", "user_not_found")))
        }

    def users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email = required(params, "email", "users_not_found").lower()
        for user in self.slack.users.values():
            if user.email and user.email.lower() == email:
                return {"user": self._user(user)}
        raise ApiError("users_not_found")

    def _user(self, user: Any) -> dict[str, Any]:
        profile = {
            "real_name": user.real_name,
            "display_name": user.display_name,
            "real_name_normalized": user.real_name,
            "display_name_normalized": user.display_name,
            "team": user.team_id,
        } | ({"email": user.email} if user.email else {})
        return {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": "Europe/London",
            "is_admin": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "profile": profile,
        }

    # -- conversations ------------------------------------------------------------------------

    def conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel(required(params, "channel", "channel_not_found"))}

    def _channel(self, channel_id: str) -> dict[str, Any]:
        info = self.slack.channel_info(channel_id)
        if info.is_im:
            return {"id": info.id, "is_im": True, "user": info.name, "is_org_shared": False}
        return {
            "id": info.id,
            "name": info.name,
            "is_channel": not info.is_private,
            "is_group": info.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": info.is_private,
            "is_archived": False,
            "is_general": info.name == "general",
            "is_member": info.is_member,
            "context_team_id": self.slack.team_id,
        }

    def conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = required(params, "channel", "channel_not_found")
        self.slack.channel_info(channel)  # applies Slack's visibility rules
        page, next_cursor = _page(self.slack.members(channel), params, default_limit=100)
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise ApiError("invalid_arguments" if not users else "not_supported_by_fake")
        channel_id = self.slack.open_dm(users[0])
        if _flag(params.get("return_im")):
            return {"channel": self._channel(channel_id)}
        return {"channel": {"id": channel_id}}

    def conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = required(params, "channel", "channel_not_found")
        if self.slack.channel_info(channel).is_private:
            raise ApiError("method_not_supported_for_channel_type")
        self.slack.add_member(channel, self.slack.bot_user_id)
        return {"channel": self._channel(channel)}

    def conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._history_channel(params)
        thread = self.slack.thread(channel, required(params, "ts", "thread_not_found"))
        if not thread:
            raise ApiError("thread_not_found")
        parent, replies = thread[0], _in_range(thread[1:], params)
        return self._history_page([parent, *replies], params)

    def conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._history_channel(params)
        newest_first = list(reversed(_in_range(self.slack.top_level(channel), params)))
        return self._history_page(newest_first, params)

    def _history_channel(self, params: dict[str, Any]) -> str:
        channel = required(params, "channel", "channel_not_found")
        if not self.slack.channel_info(channel).is_member:
            raise ApiError("not_in_channel")
        return channel

    def _history_page(self, messages: list[SlackMessage], params: dict[str, Any]) -> dict[str, Any]:
        with_metadata = _flag(params.get("include_all_metadata"))
        page, next_cursor = _page(messages, params, default_limit=100)
        return {
            "messages": [self._api(m, include_metadata=with_metadata) for m in page],
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    # -- helpers ------------------------------------------------------------------------------

    def _message(self, posted: Any) -> dict[str, Any]:
        return self._api(self.slack.message(posted.channel, posted.ts))

    def _api(
        self, message: SlackMessage | None, *, include_metadata: bool = True
    ) -> dict[str, Any]:
        if message is None:
            return {}
        return self.slack.as_api(message, include_metadata=include_metadata)


def _in_range(messages: list[SlackMessage], params: dict[str, Any]) -> list[SlackMessage]:
    inclusive = _flag(params.get("inclusive"))
    oldest = float(params.get("oldest") or 0)
    latest = float(params["latest"]) if params.get("latest") else None

    def keep(message: SlackMessage) -> bool:
        ts = float(message.ts)
        above = ts >= oldest if inclusive else ts > oldest
        below = latest is None or (ts <= latest if inclusive else ts < latest)
        return above and below

    return [m for m in messages if keep(m)]


def _page(items: list[Any], params: dict[str, Any], *, default_limit: int) -> tuple[list[Any], str]:
    """Cursor pagination the way Slack does it: opaque base64 cursors, "" at the end."""
    cursor = str(params.get("cursor") or "")
    try:
        offset = int(base64.b64decode(cursor).decode().split(":", 1)[1]) if cursor else 0
    except (ValueError, IndexError) as exc:
        raise ApiError("invalid_cursor") from exc
    limit = int(params.get("limit") or default_limit) or default_limit
    page = items[offset : offset + limit]
    end = offset + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return page, next_cursor
