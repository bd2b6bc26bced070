"""The fake Slack Web API answers slack_sdk the way Slack does (so other tests can trust it)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import Ack, App, BoltRequest, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from simulators.slack_workspace.server import FakeSlackServer

MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Create issue"}, "blocks": []}


@pytest.fixture
def slack_server() -> Iterator[FakeSlackServer]:
    with FakeSlackServer(client_id="111.222", client_secret="shh") as server:
        server.slack.add_user("U1", "alice", email="Alice@Example.com")
        server.slack.add_channel("C1", "support", members=["U1"], bot_is_member=False)
        yield server


@pytest.fixture
def web(slack_server: FakeSlackServer) -> WebClient:
    return WebClient(token=slack_server.token, base_url=slack_server.api_url)


def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.response["error"])


def test_auth_test_and_bad_tokens(slack_server: FakeSlackServer, web: WebClient) -> None:
    answer = web.auth_test()

    assert answer["team_id"] == slack_server.slack.team_id
    assert answer["user_id"] == slack_server.slack.bot_user_id
    assert answer["bot_id"] == slack_server.slack.bot_id
    assert answer["url"] == "https://connect-demo.slack.com/"
    wrong = WebClient(token="xoxb-wrong", base_url=slack_server.api_url)
    assert _error(wrong.auth_test) == "invalid_auth"
    nobody = WebClient(base_url=slack_server.api_url)
    assert _error(nobody.auth_test) == "not_authed"


def test_form_body_with_token_parameter(slack_server: FakeSlackServer) -> None:
    body = f"token={slack_server.token}&user=U1".encode()
    request = urllib.request.Request(f"{slack_server.api_url}users.info", data=body)  # noqa: S310

    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        answer = json.loads(response.read())

    assert answer["ok"] is True
    assert answer["user"]["profile"]["email"] == "Alice@Example.com"
    assert "token" not in slack_server.calls_to("users.info")[0].params


def test_lookup_by_email_join_and_history_metadata(
    slack_server: FakeSlackServer, web: WebClient
) -> None:
    assert web.users_lookupByEmail(email="alice@example.com")["user"]["id"] == "U1"
    assert _error(lambda: web.users_lookupByEmail(email="x@example.com")) == "users_not_found"
    assert _error(lambda: web.chat_postMessage(channel="C1", text="hi")) == "not_in_channel"
    assert _error(lambda: web.conversations_history(channel="C1")) == "not_in_channel"

    assert web.conversations_join(channel="C1")["channel"]["is_member"] is True
    meta = {"event_type": "connect_outbox", "event_payload": {"key": "1"}}
    web.chat_postMessage(channel="C1", text="hi", metadata=meta)

    assert "metadata" not in web.conversations_history(channel="C1")["messages"][0]
    full = web.conversations_history(channel="C1", include_all_metadata=True)
    assert full["messages"][0]["metadata"] == meta


def test_views_open_update_push_publish(slack_server: FakeSlackServer, web: WebClient) -> None:
    opened = web.views_open(trigger_id="t-1", view=MODAL | {"external_id": "ext-1"})["view"]

    assert _error(lambda: web.views_open(trigger_id="t-1", view=MODAL)) == "exchanged_trigger_id"
    updated = web.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)["view"]
    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    stale = lambda: web.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)  # noqa: E731
    assert _error(stale) == "hash_conflict"
    assert web.views_update(external_id="ext-1", view=MODAL)["view"]["id"] == opened["id"]
    assert _error(lambda: web.views_update(view_id="VNOPE", view=MODAL)) == "not_found"
    pushed = web.views_push(trigger_id="t-2", view=MODAL)["view"]
    assert pushed["id"] != opened["id"]
    home = web.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    assert slack_server.views.home["U1"] == home


def test_oauth_v2_access_installs_a_working_token(slack_server: FakeSlackServer) -> None:
    web = WebClient(base_url=slack_server.api_url)

    answer = web.oauth_v2_access(client_id="111.222", client_secret="shh", code="c-1")

    token = answer["access_token"]
    installed = WebClient(token=token, base_url=slack_server.api_url).auth_test()
    assert installed["team_id"] == answer["team"]["id"]
    bad = lambda: web.oauth_v2_access(client_id="111.222", client_secret="no", code="c")  # noqa: E731
    assert _error(bad) == "invalid_client_id"
    slack_server.set_oauth_answer({"ok": False, "error": "invalid_code"})
    again = lambda: web.oauth_v2_access(client_id="111.222", client_secret="shh", code="c")  # noqa: E731
    assert _error(again) == "invalid_code"


def test_response_urls_record_posts_and_wait_for_sees_other_threads(
    slack_server: FakeSlackServer,
) -> None:
    url = slack_server.response_url()
    sender = threading.Thread(
        target=lambda: WebhookClient(url).send(text="Created ABC-1", response_type="ephemeral")
    )
    sender.start()

    call = slack_server.wait_for("response_url", lambda c: c.params.get("text") == "Created ABC-1")

    sender.join()
    assert call.status == 200
    assert slack_server.responses(url) == [{"text": "Created ABC-1", "response_type": "ephemeral"}]
    assert WebhookClient(slack_server.url + "/response/nope").send(text="x").status_code == 404


def test_wait_for_gives_up_with_what_it_saw(slack_server: FakeSlackServer, web: WebClient) -> None:
    web.auth_test()

    with pytest.raises(AssertionError, match=r"auth\.test"):
        slack_server.wait_for("chat.postMessage", timeout=0.1)


def test_error_injection_answers_ok_false(slack_server: FakeSlackServer, web: WebClient) -> None:
    slack_server.fail_next("auth.test", error="account_inactive", times=2)

    assert _error(web.auth_test) == "account_inactive"
    assert _error(web.auth_test) == "account_inactive"
    assert web.auth_test()["ok"] is True


def test_a_bolt_app_talks_to_it(slack_server: FakeSlackServer) -> None:
    app = App(signing_secret="secret", client=WebClient(slack_server.token, slack_server.api_url))

    @app.command("/jira")
    def jira(ack: Ack, respond: Respond, client: WebClient, body: dict[str, Any]) -> None:
        ack()
        respond(text="Opening…")
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    form = {"command": "/jira", "text": "create", "user_id": "U1", "channel_id": "C1"}
    form |= {"trigger_id": "t-9", "response_url": slack_server.response_url()}
    body = urlencode(form)
    stamp = str(int(time.time()))
    signature = SignatureVerifier("secret").generate_signature(timestamp=stamp, body=body)
    headers = {"x-slack-signature": [signature], "x-slack-request-timestamp": [stamp]}
    headers["content-type"] = ["application/x-www-form-urlencoded"]

    answer = app.dispatch(BoltRequest(body=body, headers=headers))

    assert answer.status == 200
    assert slack_server.wait_for("response_url").params == {"text": "Opening…"}
    assert slack_server.wait_for("views.open").answer["ok"] is True


def test_a_stopped_fake_is_down_for_kept_alive_clients_too() -> None:
    from slack_sdk.errors import SlackClientError

    from clients.slack_transport import SlackTransport

    server = FakeSlackServer().start()
    transport = SlackTransport(server.api_url, timeout=2, max_retries=0)
    try:
        client = transport.client(server.token)
        assert client.auth_test()["ok"] is True  # the connection is now kept open

        server.stop()

        with pytest.raises((SlackClientError, OSError)):
            client.auth_test()
    finally:
        transport.close()
