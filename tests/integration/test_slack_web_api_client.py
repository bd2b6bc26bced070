"""SlackWebApiClient over real HTTP against the fake Slack Web API server."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from slack_sdk import WebClient

from clients.slack_client import (
    PostedMessage,
    SlackChannel,
    SlackError,
    SlackNotInChannel,
    SlackUnavailable,
)
from clients.slack_web_api import SlackWebApiClient
from simulators.slack_workspace.server import FakeSlackServer

TOKEN = "xoxb-1111-2222-TOPSECRETTOKEN"
OUTBOX = "connect_outbox"


class RecordingObserver:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, float]] = []

    def record(self, service: str, operation: str, outcome: str, seconds: float) -> None:
        self.records.append((service, operation, outcome, seconds))


@pytest.fixture
def slack_server() -> Iterator[FakeSlackServer]:
    with FakeSlackServer(token=TOKEN) as server:
        server.slack.add_user(
            "U1", "alice", real_name="Alice Smith", display_name="ali", email="alice@example.com"
        )
        server.slack.add_user("U2", "bob")
        server.slack.add_channel("C1", "support", members=["U1"])
        server.slack.add_channel("C2", "random", members=["U1"], bot_is_member=False)
        server.slack.add_channel("G1", "secret", is_private=True, bot_is_member=False)
        yield server


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def client(slack_server: FakeSlackServer, observer: RecordingObserver) -> SlackWebApiClient:
    return SlackWebApiClient(
        SecretStr(TOKEN), base_url=slack_server.api_url, timeout=5, observer=observer
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _all_text(exc: BaseException) -> str:
    return str(exc) + repr(exc) + "".join(traceback.format_exception(exc))


def test_post_message_sends_text_blocks_metadata_and_bearer_token(
    client: SlackWebApiClient, slack_server: FakeSlackServer
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*ABC-1* created"}}]
    metadata = {"event_type": OUTBOX, "event_payload": {"key": "k-1"}}

    posted = client.post_message("C1", text="ABC-1 created", blocks=blocks, metadata=metadata)

    assert posted.channel == "C1"
    call = slack_server.wait_for("chat.postMessage")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.params["unfurl_links"] is False
    [message] = slack_server.slack.messages["C1"]
    assert (message.ts, message.text, message.blocks) == (posted.ts, "ABC-1 created", blocks)
    assert message.metadata == metadata
    assert message.user == slack_server.slack.bot_user_id


def test_thread_reply_update_and_permalink(
    client: SlackWebApiClient, slack_server: FakeSlackServer
) -> None:
    parent = slack_server.slack.add_message("C1", "checkout is broken", user="U1")
    reply = client.post_message("C1", text="Created ABC-1", thread_ts=parent.ts, unfurl=True)

    client.update_message("C1", reply.ts, text="Created ABC-1 (In Progress)")

    stored = slack_server.slack.message("C1", reply.ts)
    assert stored is not None
    assert (stored.text, stored.thread_ts, stored.edited) == (
        "Created ABC-1 (In Progress)",
        parent.ts,
        True,
    )
    assert slack_server.calls_to("chat.postMessage")[0].params["unfurl_links"] is True
    link = client.get_permalink("C1", reply.ts)
    assert link.startswith("https://connect-demo.slack.com/archives/C1/p")
    assert f"thread_ts={parent.ts}" in link


def test_post_ephemeral_and_unfurl(
    client: SlackWebApiClient, slack_server: FakeSlackServer
) -> None:
    client.post_ephemeral("C1", "U1", text="Only you can see this", thread_ts=None)
    source = slack_server.slack.add_message(
        "C1", "see https://acme.atlassian.net/browse/A-1", user="U1"
    )
    unfurls = {"https://acme.atlassian.net/browse/A-1": {"blocks": [{"type": "divider"}]}}
    client.unfurl("C1", source.ts, unfurls)

    [ephemeral] = slack_server.slack.ephemerals
    assert (ephemeral.channel, ephemeral.user, ephemeral.text) == (
        "C1",
        "U1",
        "Only you can see this",
    )
    [unfurl] = slack_server.slack.unfurls
    assert (unfurl.channel, unfurl.ts, unfurl.unfurls) == ("C1", source.ts, unfurls)


def test_user_info_reads_profile_email(client: SlackWebApiClient) -> None:
    user = client.user_info("U1")

    assert (user.id, user.name, user.real_name, user.display_name) == (
        "U1",
        "alice",
        "Alice Smith",
        "ali",
    )
    assert (user.email, user.is_bot, user.deleted, user.team_id) == (
        "alice@example.com",
        False,
        False,
        "T0CONNECT",
    )
    assert client.user_info("U2").email is None
    with pytest.raises(SlackError) as caught:
        client.user_info("UNOBODY")
    assert caught.value.error == "user_not_found"


def test_channel_info_and_open_dm(client: SlackWebApiClient) -> None:
    assert client.channel_info("C1") == SlackChannel("C1", "support", False, False, True)
    assert client.channel_info("C2").is_member is False
    dm = client.open_dm("U1")
    assert dm.startswith("D")
    info = client.channel_info(dm)
    assert (info.is_im, info.is_private, info.is_member) == (True, True, True)
    with pytest.raises(SlackNotInChannel):
        client.channel_info("G1")


def test_is_member_follows_pagination(
    client: SlackWebApiClient, slack_server: FakeSlackServer
) -> None:
    members = [f"U{n:04d}" for n in range(450)]
    slack_server.slack.add_channel("CBIG", "big", members=members)

    assert client.is_member("CBIG", "U0449") is True
    assert len(slack_server.calls_to("conversations.members")) == 3
    assert client.is_member("CBIG", "U9999") is False
    assert client.is_member("C1", "U1") is True


def test_find_message_by_metadata_in_a_thread_and_in_the_channel(
    client: SlackWebApiClient, slack_server: FakeSlackServer
) -> None:
    parent = client.post_message("C1", text="ABC-1", metadata=_meta("top"))
    for n in range(3):
        client.post_message("C1", text=f"update {n}", thread_ts=parent.ts, metadata=_meta(f"r{n}"))

    found_in_thread = client.find_message_by_metadata(
        "C1", event_type=OUTBOX, key_field="key", key="r1", thread_ts=parent.ts
    )
    found_in_channel = client.find_message_by_metadata(
        "C1", event_type=OUTBOX, key_field="key", key="top"
    )

    assert found_in_thread == slack_server.slack.thread("C1", parent.ts)[2].ts
    assert found_in_channel == parent.ts
    replies = slack_server.calls_to("conversations.replies")
    assert replies[0].params["include_all_metadata"] in (True, "1", "true")
    history = slack_server.calls_to("conversations.history")
    assert history[0].params["include_all_metadata"] in (True, "1", "true")
    assert (
        client.find_message_by_metadata("C1", event_type=OUTBOX, key_field="key", key="r1") is None
    )
    assert (
        client.find_message_by_metadata(
            "C1", event_type="other", key_field="key", key="r1", thread_ts=parent.ts
        )
        is None
    )
    assert (
        client.find_message_by_metadata(
            "C1", event_type=OUTBOX, key_field="key", key="top", oldest=parent.ts
        )
        is None
    )


def test_429_with_retry_after_is_retried_and_posts_once(
    client: SlackWebApiClient, slack_server: FakeSlackServer, observer: RecordingObserver
) -> None:
    slack_server.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()

    posted = client.post_message("C1", text="hello")

    assert time.monotonic() - started >= 1
    assert [c.status for c in slack_server.calls_to("chat.postMessage")] == [429, 200]
    assert [m.ts for m in slack_server.slack.messages["C1"]] == [posted.ts]
    assert observer.records[-1][:3] == ("slack", "chat.postMessage", "ok")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(
    client: SlackWebApiClient, slack_server: FakeSlackServer, status: int
) -> None:
    slack_server.fail_next("conversations.info", status=status)

    channel = client.channel_info("C1")

    assert channel.id == "C1"
    assert [c.status for c in slack_server.calls_to("conversations.info")] == [status, 200]


def test_server_errors_beyond_the_retries_raise_unavailable(
    client: SlackWebApiClient, slack_server: FakeSlackServer, observer: RecordingObserver
) -> None:
    slack_server.fail_next("conversations.info", status=503, times=3)

    with pytest.raises(SlackUnavailable) as caught:
        client.channel_info("C1")

    assert caught.value.error == "http_503"
    assert len(slack_server.calls_to("conversations.info")) == 3
    assert observer.records[-1][:3] == ("slack", "conversations.info", "unavailable")


@pytest.mark.parametrize("applied", [False, True])
def test_a_post_answered_with_a_server_error_is_not_repeated_blindly(
    client: SlackWebApiClient, slack_server: FakeSlackServer, applied: bool
) -> None:
    # A 5xx does not say whether Slack posted: a retry could post twice. The caller (the
    # outbox) looks the message up by its metadata key before it sends again.
    slack_server.fail_next("chat.postMessage", status=503, applied=applied)

    with pytest.raises(SlackUnavailable) as caught:
        client.post_message("C1", text="hello")

    assert caught.value.error == "http_503"
    assert [c.status for c in slack_server.calls_to("chat.postMessage")] == [503]
    assert len(slack_server.slack.messages["C1"]) == (1 if applied else 0)


def test_long_retry_after_is_not_slept_but_reported(
    client: SlackWebApiClient, slack_server: FakeSlackServer, observer: RecordingObserver
) -> None:
    slack_server.fail_next("conversations.history", status=429, retry_after=60)
    started = time.monotonic()

    with pytest.raises(SlackUnavailable) as caught:
        client.find_message_by_metadata("C1", event_type=OUTBOX, key_field="key", key="x")

    assert time.monotonic() - started < 30  # not the 60 s Slack asked for
    assert (caught.value.error, caught.value.retry_after) == ("ratelimited", 60)
    assert observer.records[-1][2] == "rate_limited"


def test_not_in_channel_errors_are_mapped(
    client: SlackWebApiClient, slack_server: FakeSlackServer, observer: RecordingObserver
) -> None:
    with pytest.raises(SlackNotInChannel) as caught:
        client.post_message("C2", text="hello")
    assert caught.value.error == "not_in_channel"
    with pytest.raises(SlackNotInChannel) as private:
        client.post_message("G1", text="hello")
    assert private.value.error == "channel_not_found"
    slack_server.fail_next("chat.update", error="not_in_channel")
    with pytest.raises(SlackNotInChannel):
        client.update_message("C1", "1.000001", text="x")
    assert observer.records[-1][2] == "not_in_channel"


def test_other_errors_keep_slacks_code(
    client: SlackWebApiClient, slack_server: FakeSlackServer, observer: RecordingObserver
) -> None:
    slack_server.fail_next("chat.getPermalink", error="message_not_found")

    with pytest.raises(SlackError) as caught:
        client.get_permalink("C1", "1.000001")

    assert type(caught.value) is SlackError
    assert caught.value.error == "message_not_found"
    assert observer.records[-1][2] == "error"


def test_connection_refused_is_unavailable_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = SlackWebApiClient(
        TOKEN, base_url=f"http://127.0.0.1:{_closed_port()}/api/", timeout=2, max_retries=0
    )

    with caplog.at_level(logging.DEBUG), pytest.raises(SlackUnavailable) as caught:
        client.post_message("C1", text="hello")

    assert caught.value.error == "connection_error"
    assert TOKEN not in _all_text(caught.value)
    assert TOKEN not in caplog.text


def test_connection_errors_are_retried(slack_server: FakeSlackServer) -> None:
    port = _closed_port()
    client = SlackWebApiClient(TOKEN, base_url=f"http://127.0.0.1:{port}/api/", max_retries=1)
    started = time.monotonic()

    with pytest.raises(SlackUnavailable):
        client.open_dm("U1")

    assert time.monotonic() - started >= 0.5  # one backoff sleep before giving up


def test_a_refused_connection_is_retried_for_a_post_too() -> None:
    # Refused: the request never reached Slack, so nothing can have been posted.
    with FakeSlackServer(token=TOKEN) as server:
        server.slack.add_channel("C1", "support")
        port = server.port
        server.stop()
        client = SlackWebApiClient(TOKEN, base_url=f"http://127.0.0.1:{port}/api/", max_retries=1)
        handler = client.transport.retry_handlers[0]
        attempts: list[bool] = []
        can_retry = handler.can_retry_async

        async def counted(**kwargs: object) -> bool:
            attempts.append(bool(await can_retry(**kwargs)))  # type: ignore[arg-type]
            return attempts[-1]

        handler.can_retry_async = counted  # type: ignore[method-assign]
        with pytest.raises(SlackUnavailable):
            client.post_message("C1", text="hello")
    assert attempts[0] is True


def test_the_token_never_appears_in_errors_or_logs(
    slack_server: FakeSlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "xoxb-9999-WRONGSECRET"
    client = SlackWebApiClient(wrong, base_url=slack_server.api_url, max_retries=0)
    failures: list[SlackError] = []
    with caplog.at_level(logging.DEBUG):
        for fail in (None, 500, 429):
            if fail is not None:
                slack_server.add_token(wrong)
                slack_server.fail_next("chat.postMessage", status=fail, retry_after=30)
            with pytest.raises(SlackError) as caught:
                client.post_message("C1", text="hello")
            failures.append(caught.value)

    assert [f.error for f in failures] == ["invalid_auth", "http_500", "ratelimited"]
    for failure in failures:
        assert wrong not in _all_text(failure)
    assert wrong not in caplog.text
    assert wrong not in repr(client)


def test_exposes_the_underlying_web_client(
    client: SlackWebApiClient, slack_server: FakeSlackServer
) -> None:
    assert isinstance(client.web_client, WebClient)
    assert client.web_client.base_url == slack_server.api_url
    assert client.web_client.auth_test()["user_id"] == slack_server.slack.bot_user_id


def test_posting_to_a_user_id_lands_in_the_dm(client: SlackWebApiClient) -> None:
    posted = client.post_message("U1", text="Your issue was created")

    assert posted == PostedMessage(channel=client.open_dm("U1"), ts=posted.ts)


def _meta(key: str) -> dict[str, object]:
    return {"event_type": OUTBOX, "event_payload": {"key": key, "issue": "ABC-1"}}


def test_thread_messages_pages_through_a_long_thread_with_its_parent_once(
    client: SlackWebApiClient, slack_server: FakeSlackServer
) -> None:
    parent = slack_server.slack.add_message("C1", "the parent", user="U1")
    replies = [
        slack_server.slack.add_message("C1", f"reply {n}", user="U1", thread_ts=parent.ts)
        for n in range(250)
    ]

    thread = client.thread_messages("C1", parent.ts)

    assert [m["ts"] for m in thread] == [parent.ts, *(r.ts for r in replies)]
    assert thread[0]["reply_count"] == 250
    pages = slack_server.calls_to("conversations.replies")
    assert [int(call.params["limit"]) for call in pages] == [200, 200]
    assert [m["ts"] for m in client.thread_messages("C1", parent.ts, limit=1)] == [parent.ts]
    # From a reply on, inclusive: the parent, then that reply and what follows it.
    around = client.thread_messages("C1", parent.ts, oldest=replies[10].ts, limit=2)
    assert [m["ts"] for m in around] == [parent.ts, replies[10].ts]
    with pytest.raises(SlackNotInChannel):
        client.thread_messages("C2", parent.ts)


def test_update_view_finds_the_modal_by_id_or_external_id_and_honours_the_hash(
    client: SlackWebApiClient, slack_server: FakeSlackServer
) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Create"}, "blocks": []}
    web = WebClient(token=TOKEN, base_url=slack_server.api_url)
    opened = web.views_open(trigger_id="t-1", view=modal | {"external_id": "ext-1"})["view"]
    filled = modal | {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}

    client.update_view(filled, external_id="ext-1")

    assert slack_server.views.by_id[opened["id"]]["blocks"] == filled["blocks"]
    client.update_view(modal, view_id=opened["id"])
    assert slack_server.views.by_id[opened["id"]]["blocks"] == []
    with pytest.raises(SlackError) as stale:
        client.update_view(modal, view_id=opened["id"], hash=opened["hash"])
    assert stale.value.error == "hash_conflict"
    with pytest.raises(SlackError) as unnamed:
        client.update_view(modal)
    assert unnamed.value.error == "invalid_arguments"


def test_respond_answers_a_response_url_and_counts_it(
    client: SlackWebApiClient, slack_server: FakeSlackServer, observer: RecordingObserver
) -> None:
    url = slack_server.response_url()
    message = {"text": "Created ABC-1", "response_type": "ephemeral"}

    client.respond(url, message)

    assert slack_server.responses(url) == [message]
    assert [(r[1], r[2]) for r in observer.records] == [("response_url", "ok")]


def test_respond_to_an_unreachable_url_is_unavailable() -> None:
    client = SlackWebApiClient(SecretStr(TOKEN), base_url="http://127.0.0.1:1/api/", timeout=2)
    url = f"http://127.0.0.1:{_closed_port()}/response/T000001"
    try:
        with pytest.raises(SlackUnavailable) as failed:
            client.respond(url, {"text": "hello"})
    finally:
        client.close()
    assert url not in _all_text(failed.value)


def test_unfurl_in_composer_sends_the_unfurl_id_and_source(
    client: SlackWebApiClient, slack_server: FakeSlackServer, observer: RecordingObserver
) -> None:
    unfurls = {"https://jira.example/browse/ABC-1": {"blocks": []}}

    client.unfurl_in_composer("draft.1.abc", "composer", unfurls)

    (call,) = slack_server.calls_to("chat.unfurl")
    assert call.params["unfurl_id"] == "draft.1.abc" and call.params["source"] == "composer"
    assert [(u.channel, u.ts, u.unfurls) for u in slack_server.slack.unfurls] == [
        ("composer", "draft.1.abc", unfurls)
    ]
    assert [(r[1], r[2]) for r in observer.records] == [("chat.unfurl", "ok")]
    with pytest.raises(SlackError) as unnamed:
        client.unfurl_in_composer("", "composer", unfurls)
    assert unnamed.value.error == "cannot_find_message"


def test_publish_home_publishes_the_users_app_home_and_counts_it(
    client: SlackWebApiClient, slack_server: FakeSlackServer, observer: RecordingObserver
) -> None:
    hello = {"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}
    home = {"type": "home", "blocks": [hello]}

    client.publish_home("U1", home)
    client.publish_home("U1", home | {"blocks": []})

    assert slack_server.views.home["U1"]["blocks"] == []
    assert [(r[1], r[2]) for r in observer.records] == [("views.publish", "ok")] * 2
    with pytest.raises(SlackError) as unknown:
        client.publish_home("U0NOBODY", home)
    assert unknown.value.error == "user_not_found"
