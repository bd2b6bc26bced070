"""The modal opener (handlers/modal_opener) on Connect's Slack transport: views.open handed
off after the ack, sent from the transport's event loop against the fake Slack over real HTTP
on 127.0.0.1, with a call that waited past its trigger's life dropped unsent."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from slack_sdk import WebClient

from bot.context_executor import ContextExecutor
from clients.slack_transport import CallExpired, KeptAliveWebClient, SlackTransport
from handlers import modal_opener
from handlers.after_ack import AfterAck
from handlers.modal_opener import ModalOpener
from simulators.slack_workspace.server import FakeSlackServer
from tests.waiting import wait_until

WAIT = 10.0  # seconds: a bound for a hang, not a timing


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def transport(slack: FakeSlackServer) -> Iterator[SlackTransport]:
    transport = SlackTransport(slack.api_url, max_retries=2, max_retry_wait=2.0)
    yield transport
    transport.close()


@pytest.fixture
def client(slack: FakeSlackServer, transport: SlackTransport) -> KeptAliveWebClient:
    return transport.client(slack.token)


@pytest.fixture
def opener() -> Iterator[ModalOpener]:
    after_ack = AfterAck(ContextExecutor(2))
    yield ModalOpener(after_ack)
    after_ack.shutdown()


def modal(external_id: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "external_id": external_id,
        "title": {"type": "plain_text", "text": "Create Jira issue"},
        "blocks": [],
    }


def open_call(trigger_id: str, external_id: str) -> dict[str, Any]:
    return {"trigger_id": trigger_id, "view": modal(external_id)}


def test_a_call_handed_off_is_sent_as_webclient_sends_it(
    slack: FakeSlackServer, transport: SlackTransport
) -> None:
    client = transport.client(slack.token, team_id="T0TEAM")
    encoded = orjson.Fragment(orjson.dumps(modal("m-1")))  # sent as it is, not decoded
    answer = client.call_soon("views.open", {"trigger_id": "1.2.t", "view": encoded})
    assert answer.result(WAIT)["view"]["external_id"] == "m-1"
    recorded = slack.calls_to("views.open")[0]
    assert recorded.token == slack.token
    assert recorded.headers["Content-Type"] == "application/json;charset=utf-8"
    assert recorded.params["trigger_id"] == "1.2.t"
    assert recorded.params["team_id"] == "T0TEAM"  # the client's default parameters


def test_calls_handed_off_are_in_flight_together_not_one_after_another(
    slack: FakeSlackServer, client: KeptAliveWebClient
) -> None:
    """Each answer waits until five calls have arrived: sent one at a time, none would be."""
    arrived = threading.Barrier(5, timeout=WAIT)
    answer_call = slack.api.call

    def held(method: str, params: dict[str, Any], *, token: str | None) -> dict[str, Any]:
        arrived.wait()
        return answer_call(method, params, token=token)

    slack.api.call = held  # type: ignore[method-assign]
    sent = [client.call_soon("views.open", open_call(f"t{n}", f"m{n}")) for n in range(5)]
    assert all(future.result(WAIT)["ok"] for future in sent)
    assert not arrived.broken


def test_calls_handed_over_from_many_threads_are_all_answered(
    slack: FakeSlackServer, client: KeptAliveWebClient
) -> None:
    futures: list[Any] = []
    lock = threading.Lock()

    def hand_over(thread_no: int) -> None:
        for n in range(20):
            future = client.call_soon(
                "views.open", open_call(f"{thread_no}.{n}", f"{thread_no}-{n}")
            )
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=hand_over, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(futures) == 160
    assert all(future.result(WAIT)["ok"] for future in futures)
    assert len(slack.views.by_id) == 160


def test_a_call_past_its_deadline_before_it_is_sent_fails_unsent(
    slack: FakeSlackServer, client: KeptAliveWebClient
) -> None:
    late = client.call_soon("views.open", open_call("1", "m-1"), deadline=time.monotonic() - 1)
    in_time = client.call_soon(
        "views.open", open_call("2", "m-2"), deadline=time.monotonic() + WAIT
    )
    with pytest.raises(CallExpired):
        late.result(WAIT)
    assert in_time.result(WAIT)["ok"] is True
    assert [call.params["trigger_id"] for call in slack.calls_to("views.open")] == ["2"]


def test_calls_beyond_the_connection_limit_wait_their_turn_and_expire_there(
    slack: FakeSlackServer,
) -> None:
    """Two calls are held by Slack on a transport of two connections; the next waits in the
    transport's queue: its deadline passes there and it is never sent."""
    release = threading.Event()
    arrived: list[str] = []
    answer_call = slack.api.call

    def held(method: str, params: dict[str, Any], *, token: str | None) -> dict[str, Any]:
        arrived.append(params["trigger_id"])
        if params["trigger_id"].startswith("held"):
            release.wait(WAIT)
        return answer_call(method, params, token=token)

    slack.api.call = held  # type: ignore[method-assign]
    transport = SlackTransport(slack.api_url, max_connections=2)
    try:
        client = transport.client(slack.token)
        first = [client.call_soon("views.open", open_call(f"held{n}", f"h{n}")) for n in range(2)]
        deadline = time.monotonic() + 0.2
        waiting = client.call_soon("views.open", open_call("late", "late"), deadline=deadline)
        wait_until(lambda: len(arrived) == 2, what="both held calls at Slack")
        wait_until(lambda: time.monotonic() > deadline, what="the waiting call's deadline")
        release.set()
        assert all(future.result(WAIT)["ok"] for future in first)
        with pytest.raises(CallExpired):
            waiting.result(WAIT)
        assert "late" not in arrived
    finally:
        release.set()
        transport.close()


# -- the modal opener ---------------------------------------------------------------------------


def test_what_follows_an_open_is_handed_over_once_slack_has_the_modal(
    slack: FakeSlackServer, client: KeptAliveWebClient, opener: ModalOpener
) -> None:
    seen: list[list[str]] = []
    done = threading.Event()

    def fill() -> None:  # on a work thread, after views.open was answered
        seen.append([v["external_id"] for v in slack.views.by_id.values()])
        done.set()

    opener.open(client, "1.2.t", modal("m-1"), what="create", then=fill)
    assert done.wait(WAIT)
    assert seen == [["m-1"]]


def test_slacks_refusal_is_logged_once_and_not_sent_again(
    slack: FakeSlackServer,
    client: KeptAliveWebClient,
    opener: ModalOpener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack.fail_next("views.open", error="expired_trigger_id")
    filled: list[bool] = []
    with caplog.at_level(logging.WARNING):
        opened = opener.open(
            client, "1.2.t", modal("m-1"), what="create", then=lambda: filled.append(True)
        )
        opened.result(WAIT)
    assert "could not open the create modal: expired_trigger_id" in caplog.text
    assert len(slack.calls_to("views.open")) == 1
    assert filled == []


def test_a_server_error_is_retried_by_the_transport(
    slack: FakeSlackServer,
    client: KeptAliveWebClient,
    opener: ModalOpener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack.fail_next("views.open", status=503)
    with caplog.at_level(logging.WARNING):
        opener.open(client, "1.2.t", modal("m-1"), what="create").result(WAIT)
    assert [call.status for call in slack.calls_to("views.open")] == [503, 200]
    assert [v["external_id"] for v in slack.views.by_id.values()] == ["m-1"]
    assert "could not open" not in caplog.text


def test_no_server_is_logged_as_a_failure_to_open(
    opener: ModalOpener, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeSlackServer() as gone:
        url, token = gone.api_url, gone.token
    transport = SlackTransport(url, max_retries=0)
    try:
        with caplog.at_level(logging.WARNING):
            opener.open(transport.client(token), "1.2.t", modal("m-1"), what="create").result(WAIT)
    finally:
        transport.close()
    assert "could not open the create modal" in caplog.text
    assert "opening the create modal failed" not in caplog.text  # not a fault of ours


def test_a_view_that_cannot_be_sent_is_logged_as_our_fault(
    slack: FakeSlackServer,
    client: KeptAliveWebClient,
    opener: ModalOpener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    view = {**modal("m-1"), "private_metadata": object()}
    with caplog.at_level(logging.ERROR):
        opener.open(client, "1.2.t", view, what="create").result(WAIT)
    assert "opening the create modal failed" in caplog.text
    assert slack.calls_to("views.open") == []


def test_a_plain_webclient_opens_from_a_work_thread(opener: ModalOpener) -> None:
    with FakeSlackServer() as slack:
        client = WebClient(token=slack.token, base_url=slack.api_url)
        opener.open(client, "1.2.t", modal("m-1"), what="create").result(WAIT)
        assert len(slack.calls_to("views.open")) == 1


def test_an_open_whose_trigger_expired_while_it_waited_is_dropped_not_sent(
    slack: FakeSlackServer,
    client: KeptAliveWebClient,
    opener: ModalOpener,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(modal_opener, "TRIGGER_LIFE", -1.0)  # expired before it is taken
    with caplog.at_level(logging.WARNING):
        opener.open(client, "1.2.t", modal("m-1"), what="create").result(WAIT)
    assert "could not open the create modal: Slack calls backed up past its trigger" in caplog.text
    assert slack.calls_to("views.open") == []
