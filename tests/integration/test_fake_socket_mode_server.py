"""The fake Socket Mode server against slack_sdk's own client: the fake is only worth its
tests if the real client talks to it the way it talks to Slack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from simulators.slack_workspace.server import FakeSlackServer
from tests.fakes.socket_mode_server import FakeSocketModeServer


@pytest.fixture
def sockets() -> Iterator[FakeSocketModeServer]:
    with FakeSlackServer() as slack, FakeSocketModeServer(slack) as server:
        yield server


def test_apps_connections_open_hands_out_urls_to_app_tokens_only(
    sockets: FakeSocketModeServer,
) -> None:
    web = WebClient(base_url=sockets.slack.api_url)
    first = web.apps_connections_open(app_token=sockets.app_token)["url"]
    second = web.apps_connections_open(app_token=sockets.app_token)["url"]
    assert first.startswith(f"ws://127.0.0.1:{sockets.port}/") and first != second
    for token, error in [
        (sockets.slack.token, "not_allowed_token_type"),
        ("xapp-1-someone-else", "invalid_auth"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            web.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error


def test_slack_sdk_client_gets_hello_and_envelopes_and_acks_them(
    sockets: FakeSocketModeServer,
) -> None:
    client = SocketModeClient(
        app_token=sockets.app_token, web_client=WebClient(base_url=sockets.slack.api_url)
    )
    seen: list[dict[str, object]] = []

    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        seen.append(request.payload)
        answer = {"text": "got it"} if request.accepts_response_payload else None
        client.send_socket_mode_response(SocketModeResponse(request.envelope_id, answer))

    client.message_listeners.append(lambda _c, message, _raw: seen.append(message))
    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    try:
        client.connect()
        link = sockets.wait_for_connection(1)
        envelope_id = sockets.send("slash_commands", {"text": "hi"}, accepts_response_payload=True)
        assert sockets.wait_for_ack(envelope_id) == {
            "envelope_id": envelope_id,
            "payload": {"text": "got it"},
        }
        quiet = sockets.send("events_api", {"event": {"type": "app_mention"}})
        assert sockets.wait_for_ack(quiet) == {"envelope_id": quiet}
        assert seen[0]["type"] == "hello"
        assert {"text": "hi"} in seen
        assert link.received == [
            {"envelope_id": envelope_id, "payload": {"text": "got it"}},
            {"envelope_id": quiet},
        ]
    finally:
        client.close()
    sockets.wait_until_all_closed()
