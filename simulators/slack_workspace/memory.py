"""An in-memory Slack workspace behind the SlackClient interface: for tests and the offline demo."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from clients.slack_client import (
    Blocks,
    PostedMessage,
    SlackChannel,
    SlackError,
    SlackUser,
    error_for,
    metadata_matches,
)
from clients.slack_limits import message_violation
from simulators.slack_workspace.transcript import (
    EphemeralMessage,
    SlackMessage,
    UnfurlRecord,
    render_transcript,
)


@dataclass(frozen=True)
class SlackCall:
    method: str
    args: dict[str, Any]


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    members: set[str] = field(default_factory=set)


class InMemorySlack:
    """A thread-safe Slack workspace in memory; implements SlackClient and records every call."""

    def __init__(
        self,
        *,
        team_id: str = "T0CONNECT",
        team_domain: str = "connect-demo",
        bot_user_id: str = "UCONNECTBOT",
        bot_id: str = "BCONNECTBOT",
        bot_name: str = "Connect",
        auto_create_channels: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.auto_create_channels = auto_create_channels
        self.calls: list[SlackCall] = []
        self.messages: dict[str, list[SlackMessage]] = {}
        self.ephemerals: list[EphemeralMessage] = []
        self.unfurls: list[UnfurlRecord] = []
        # What update_view and respond were given: (view_id or external_id, view), (url, message).
        self.view_updates: list[tuple[str, dict[str, Any]]] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []
        self.homes: dict[str, dict[str, Any]] = {}  # the App Home last published, by user
        self.users: dict[str, SlackUser] = {}
        self._channels: dict[str, _Channel] = {}
        self._failures: list[tuple[str | None, str | SlackError]] = []
        self._clock = clock
        self._last_us = 0
        self._lock = threading.RLock()
        self.add_user(
            bot_user_id, bot_name.lower(), real_name=bot_name, display_name=bot_name, is_bot=True
        )

    # -- seeding --------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> SlackUser:
        user = SlackUser(
            id=user_id,
            team_id=self.team_id,
            name=name,
            real_name=real_name if real_name is not None else name,
            display_name=display_name if display_name is not None else name,
            email=email,
            is_bot=is_bot,
            deleted=deleted,
        )
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        is_private: bool = False,
        bot_is_member: bool = True,
    ) -> SlackChannel:
        with self._lock:
            channel = _Channel(channel_id, name, is_private=is_private, members=set(members))
            if bot_is_member:
                channel.members.add(self.bot_user_id)
            self._channels[channel_id] = channel
            self.messages.setdefault(channel_id, [])
            return self._describe(channel)

    def add_member(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            self._channel(channel_id).members.add(user_id)

    def remove_member(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            self._channel(channel_id).members.discard(user_id)

    def members(self, channel_id: str) -> list[str]:
        with self._lock:
            return sorted(self._channel(channel_id).members)

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: Blocks | None = None,
        metadata: Mapping[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> SlackMessage:
        """A message someone (not the bot) wrote; no permission checks, no call recorded."""
        with self._lock:
            channel_id = self._channel(channel).id
            return self._append(channel_id, text, user, blocks, thread_ts, metadata, files)

    def fail_next(
        self, error: str | SlackError, *, method: str | None = None, times: int = 1
    ) -> None:
        """The next `times` calls (to `method`, or to any method) raise this Slack error."""
        with self._lock:
            self._failures.extend([(method, error)] * times)

    # -- reading back ---------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[SlackMessage]:
        """The parent message and its replies, oldest first."""
        with self._lock:
            return [
                m
                for m in self.messages.get(channel, [])
                if m.ts == thread_ts or m.thread_ts == thread_ts
            ]

    def top_level(self, channel: str) -> list[SlackMessage]:
        with self._lock:
            return [m for m in self.messages.get(channel, []) if not m.is_reply]

    def message(self, channel: str, ts: str) -> SlackMessage | None:
        with self._lock:
            return next((m for m in self.messages.get(channel, []) if m.ts == ts), None)

    def channel_name(self, channel_id: str) -> str:
        with self._lock:
            channel = self._channels.get(channel_id)
        if channel is None:
            return channel_id
        if channel.is_im:
            user = self.users.get(channel.name)
            return f"DM with {user.real_name if user else channel.name}"
        return f"#{channel.name}"

    def user_name(self, user_id: str) -> str:
        user = self.users.get(user_id)
        return (user.display_name or user.real_name or user.name) if user else user_id

    def transcript(self, channel: str | None = None) -> str:
        """What people see: channels, threads, ephemerals and unfurls, in posting order."""
        with self._lock:
            channels = [channel] if channel is not None else list(self.messages)
            return render_transcript(
                {c: list(self.messages.get(c, [])) for c in channels},
                [e for e in self.ephemerals if channel is None or e.channel == channel],
                [u for u in self.unfurls if channel is None or u.channel == channel],
                channel_name=self.channel_name,
                user_name=self.user_name,
                bot_name=self.bot_name,
            )

    # -- SlackClient ----------------------------------------------------------------------

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
        with self._lock:
            self._begin(
                "post_message",
                channel=channel,
                text=text,
                blocks=_plain(blocks),
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl=unfurl,
            )
            if not text and not blocks:
                raise error_for("no_text")
            _within_limits(text, blocks)
            target = self._joined(channel)
            message = self._append(target.id, text, self.bot_user_id, blocks, thread_ts, metadata)
            return PostedMessage(channel=target.id, ts=message.ts)

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: Blocks | None = None
    ) -> None:
        with self._lock:
            self._begin("update_message", channel=channel, ts=ts, text=text, blocks=_plain(blocks))
            _within_limits(text, blocks)
            target = self._joined(channel)
            stored = self.messages.get(target.id, [])
            for index, message in enumerate(stored):
                if message.ts == ts:
                    if message.user != self.bot_user_id:
                        raise error_for("cant_update_message")
                    stored[index] = replace(message, text=text, blocks=_plain(blocks), edited=True)
                    return
            raise error_for("message_not_found")

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
    ) -> None:
        with self._lock:
            self._begin(
                "post_ephemeral",
                channel=channel,
                user=user,
                text=text,
                blocks=_plain(blocks),
                thread_ts=thread_ts,
            )
            if not text and not blocks:
                raise error_for("no_text")
            _within_limits(text, blocks)
            target = self._joined(channel)
            self.ephemerals.append(
                EphemeralMessage(target.id, user, text, self._next_ts(), _plain(blocks), thread_ts)
            )

    def get_permalink(self, channel: str, ts: str) -> str:
        with self._lock:
            self._begin("get_permalink", channel=channel, ts=ts)
            target = self._readable(channel)
            message = self.message(target.id, ts)
            if message is None:
                raise error_for("message_not_found")
            link = (
                f"https://{self.team_domain}.slack.com/archives/{target.id}/p{ts.replace('.', '')}"
            )
            if message.is_reply:
                link += f"?thread_ts={message.thread_ts}&cid={target.id}"
            return link

    def user_info(self, user_id: str) -> SlackUser:
        with self._lock:
            self._begin("user_info", user_id=user_id)
            user = self.users.get(user_id)
            if user is None:
                raise error_for("user_not_found")
            return user

    def channel_info(self, channel: str) -> SlackChannel:
        with self._lock:
            self._begin("channel_info", channel=channel)
            return self._describe(self._readable(channel))

    def is_member(self, channel: str, user_id: str) -> bool:
        with self._lock:
            self._begin("is_member", channel=channel, user_id=user_id)
            return user_id in self._readable(channel).members

    def open_dm(self, user_id: str) -> str:
        with self._lock:
            self._begin("open_dm", user_id=user_id)
            return self._dm(user_id).id

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
        with self._lock:
            self._begin(
                "find_message_by_metadata",
                channel=channel,
                event_type=event_type,
                key_field=key_field,
                key=key,
                thread_ts=thread_ts,
                oldest=oldest,
            )
            target = self._joined(channel)  # history needs membership, like the Web API
            if thread_ts is not None:
                candidates = self.thread(target.id, thread_ts)
            else:
                candidates = self.top_level(target.id)
            for message in candidates:
                if oldest is not None and float(message.ts) < float(oldest):
                    continue
                if metadata_matches(
                    message.metadata, event_type=event_type, key_field=key_field, key=key
                ):
                    return message.ts
            return None

    def unfurl(self, channel: str, ts: str, unfurls: Mapping[str, Any]) -> None:
        with self._lock:
            self._begin("unfurl", channel=channel, ts=ts, unfurls=dict(unfurls))
            target = self._readable(channel)
            self.unfurls.append(UnfurlRecord(target.id, ts, dict(unfurls)))

    def unfurl_in_composer(self, unfurl_id: str, source: str, unfurls: Mapping[str, Any]) -> None:
        """Recorded in `unfurls` as if `source` were the channel and `unfurl_id` the ts."""
        with self._lock:
            args = {"unfurl_id": unfurl_id, "source": source, "unfurls": dict(unfurls)}
            self._begin("unfurl_in_composer", **args)
            if not unfurl_id:
                raise error_for("cannot_find_message")
            self.unfurls.append(UnfurlRecord(source, unfurl_id, dict(unfurls)))

    def thread_messages(
        self, channel: str, thread_ts: str, *, oldest: str | None = None, limit: int = 1000
    ) -> list[Mapping[str, Any]]:
        with self._lock:
            self._begin(
                "thread_messages", channel=channel, thread_ts=thread_ts, oldest=oldest, limit=limit
            )
            target = self._joined(channel)
            thread = self.thread(target.id, thread_ts)
            if not thread:
                raise error_for("thread_not_found")
            since = float(oldest or 0)
            replies = [m for m in thread[1:] if float(m.ts) >= since]
            return [self.as_api(m) for m in [thread[0], *replies][:limit]]

    def update_view(
        self,
        view: Mapping[str, Any],
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> None:
        """Recorded in `view_updates`: the modals themselves live in the Web API stand-in
        (simulators.slack_workspace.views)."""
        with self._lock:
            self._begin(
                "update_view", view=dict(view), view_id=view_id, external_id=external_id, hash=hash
            )
            found_by = view_id or external_id
            if not found_by:
                raise error_for("invalid_arguments")
            self.view_updates.append((found_by, dict(view)))

    def publish_home(self, user_id: str, view: Mapping[str, Any]) -> None:
        """Kept in `homes` (the Web API stand-in keeps its own, with view ids and hashes)."""
        with self._lock:
            self._begin("publish_home", user_id=user_id, view=dict(view))
            if user_id not in self.users:
                raise error_for("user_not_found")
            if view.get("type") != "home":
                raise error_for("invalid_arguments")
            self.homes[user_id] = dict(view)

    def respond(self, response_url: str, message: Mapping[str, Any]) -> None:
        with self._lock:
            self._begin("respond", response_url=response_url, message=dict(message))
            self.responses.append((response_url, dict(message)))

    def as_api(self, message: SlackMessage, *, include_metadata: bool = True) -> dict[str, Any]:
        """A message as the Web API describes it: a thread's parent with its reply count."""
        with self._lock:
            data = message.to_api(include_metadata=include_metadata) | {"team": self.team_id}
            if not message.is_reply:
                replies = [m for m in self.thread(message.channel, message.ts) if m.is_reply]
                if replies:
                    data |= {"thread_ts": message.ts, "reply_count": len(replies)}
                    data["latest_reply"] = replies[-1].ts
            return data

    # -- internals ------------------------------------------------------------------------

    def _begin(self, method: str, **args: Any) -> None:
        self.calls.append(SlackCall(method, args))
        for index, (wanted, failure) in enumerate(self._failures):
            if wanted is None or wanted == method:
                del self._failures[index]
                raise error_for(failure) if isinstance(failure, str) else copy.copy(failure)

    def _append(
        self,
        channel_id: str,
        text: str,
        user: str,
        blocks: Blocks | None,
        thread_ts: str | None,
        metadata: Mapping[str, Any] | None,
        files: list[dict[str, Any]] | None = None,
    ) -> SlackMessage:
        message = SlackMessage(
            channel=channel_id,
            ts=self._next_ts(),
            text=text,
            user=user,
            blocks=_plain(blocks),
            thread_ts=thread_ts,
            metadata=dict(metadata) if metadata is not None else None,
            bot_id=self.bot_id if user == self.bot_user_id else None,
            files=files,
        )
        self.messages.setdefault(channel_id, []).append(message)
        return message

    def _next_ts(self) -> str:
        now_us = int(self._clock() * 1_000_000)
        self._last_us = max(now_us, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _channel(self, channel_id: str) -> _Channel:
        if channel_id in self._channels:
            return self._channels[channel_id]
        if channel_id in self.users:
            return self._dm(channel_id)
        if not self.auto_create_channels:
            raise error_for("channel_not_found")
        self.add_channel(channel_id, channel_id.lower())
        return self._channels[channel_id]

    def _dm(self, user_id: str) -> _Channel:
        if user_id not in self.users:
            raise error_for("user_not_found")
        dm_id = "D" + user_id[1:]
        if dm_id not in self._channels:
            members = {self.bot_user_id, user_id}
            self._channels[dm_id] = _Channel(
                dm_id, user_id, is_private=True, is_im=True, members=members
            )
            self.messages.setdefault(dm_id, [])
        return self._channels[dm_id]

    def _readable(self, channel_id: str) -> _Channel:
        """Private channels the bot is not in do not exist for it."""
        channel = self._channel(channel_id)
        if channel.is_private and self.bot_user_id not in channel.members:
            raise error_for("channel_not_found")
        return channel

    def _joined(self, channel_id: str) -> _Channel:
        channel = self._readable(channel_id)
        if self.bot_user_id not in channel.members:
            raise error_for("not_in_channel")
        return channel

    def _describe(self, channel: _Channel) -> SlackChannel:
        return SlackChannel(
            id=channel.id,
            name=channel.name,
            is_private=channel.is_private,
            is_im=channel.is_im,
            is_member=self.bot_user_id in channel.members,
        )


def _plain(blocks: Blocks | None) -> list[dict[str, Any]] | None:
    return [dict(block) for block in blocks] if blocks is not None else None


def _within_limits(text: str, blocks: Blocks | None) -> None:
    """Slack refuses a message past its limits (`clients.slack_limits`); so does the fake."""
    violation = message_violation(text, _plain(blocks))
    if violation is not None:
        raise error_for(violation)
