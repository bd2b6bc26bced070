"""SlackCalls (clients/slack_calls) and the modal opener on it: handed-off Slack calls sent by
one thread, concurrently, against the fake Slack over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.context_executor import ContextExecutor
from clients.slack_calls import MAX_CONNECTIONS, SlackCallFailed, SlackCalls
from clients.slack_http import PooledWebClient
from clients.slack_retry import retry_handlers
from handlers import modal_opener
from handlers.after_ack import AfterAck
from handlers.modal_opener import ModalOpener
from simulators.slack_workspace.server import FakeSlackServer

WAIT = 10.0  # seconds: a bound for a hang, not a timing


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def calls() -> SlackCalls:
    return SlackCalls(name="test-slack-calls")


def client_for(slack: FakeSlackServer, **extra: Any) -> PooledWebClient:
    return PooledWebClient(
        token=slack.token, base_url=slack.api_url, retry_handlers=retry_handlers(2, 2.0), **extra
    )


def modal(external_id: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "external_id": external_id,
        "title": {"type": "plain_text", "text": "Create Jira issue"},
        "blocks": [],
    }


def test_a_call_is_sent_as_webclient_sends_it_and_answered_with_slacks_json(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    client = client_for(slack, team_id="T0TEAM")
    answer = calls.call(client, "views.open", {"trigger_id": "1.2.t", "view": modal("m-1")})
    assert answer.result(WAIT)["ok"] is True
    assert answer.result()["view"]["external_id"] == "m-1"
    recorded = slack.calls_to("views.open")[0]
    assert recorded.token == slack.token
    assert recorded.headers["Content-Type"] == "application/json;charset=utf-8"
    assert recorded.headers["User-Agent"] == client.headers["User-Agent"]
    assert recorded.params["trigger_id"] == "1.2.t"
    assert recorded.params["team_id"] == "T0TEAM"  # the client's default parameters


def test_slacks_refusal_is_an_answer_not_a_failure(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    slack.fail_next("views.open", error="expired_trigger_id")
    answer = calls.call(client_for(slack), "views.open", {"trigger_id": "1", "view": modal("x")})
    assert answer.result(WAIT) == {"ok": False, "error": "expired_trigger_id"}


def test_calls_are_in_flight_together_not_one_after_another(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    """Each answer waits until five calls have arrived: sent one at a time, none would be."""
    arrived = threading.Barrier(5, timeout=WAIT)
    answer_call = slack.api.call

    def held(method: str, params: dict[str, Any], *, token: str | None) -> dict[str, Any]:
        arrived.wait()
        return answer_call(method, params, token=token)

    slack.api.call = held  # type: ignore[method-assign]
    client = client_for(slack)
    sent = [
        calls.call(client, "views.open", {"trigger_id": f"t{n}", "view": modal(f"m{n}")})
        for n in range(5)
    ]
    assert all(future.result(WAIT)["ok"] for future in sent)
    assert not arrived.broken


def test_calls_handed_over_from_many_threads_are_all_answered(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    client = client_for(slack)
    futures: list[Any] = []
    lock = threading.Lock()

    def hand_over(thread_no: int) -> None:
        for n in range(20):
            payload = {"trigger_id": f"{thread_no}.{n}", "view": modal(f"{thread_no}-{n}")}
            future = calls.call(client, "views.open", payload)
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=hand_over, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(futures) == 160
    assert all(future.result(WAIT)["ok"] for future in futures)
    assert len(slack.calls_to("views.open")) == 160
    assert len(slack.views.by_id) == 160


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (429, "1")])
def test_an_http_error_is_a_failure_with_its_status(
    slack: FakeSlackServer, calls: SlackCalls, status: int, retry_after: str | None
) -> None:
    slack.fail_next("views.open", status=status)
    answer = calls.call(client_for(slack), "views.open", {"trigger_id": "1", "view": modal("x")})
    with pytest.raises(SlackCallFailed) as failed:
        answer.result(WAIT)
    assert failed.value.status == status
    assert failed.value.retry_after == retry_after


def test_a_payload_json_cannot_encode_fails_that_call_alone(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    client = client_for(slack)
    bad = calls.call(client, "views.open", {"trigger_id": "1", "view": {"when": object()}})
    good = calls.call(client, "views.open", {"trigger_id": "2", "view": modal("m-2")})
    with pytest.raises(TypeError):
        bad.result(WAIT)
    assert good.result(WAIT)["ok"] is True


def test_no_server_is_a_failure_without_a_status(calls: SlackCalls) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PooledWebClient(token="xoxb-1", base_url=f"http://127.0.0.1:{port}/api/")
    answer = calls.call(client, "views.open", {"trigger_id": "1", "view": modal("x")})
    with pytest.raises(SlackCallFailed) as failed:
        answer.result(WAIT)
    assert failed.value.status == 0


def test_only_clients_that_libcurl_can_send_for_are_taken(slack: FakeSlackServer) -> None:
    assert SlackCalls.can_send(client_for(slack))
    assert not SlackCalls.can_send(client_for(slack, proxy="http://proxy.invalid:3128"))
    assert not SlackCalls.can_send(WebClient(token=slack.token, base_url=slack.api_url))


# -- the modal opener ---------------------------------------------------------------------------


def opener_for(calls: SlackCalls) -> ModalOpener:
    return ModalOpener(ThreadPoolExecutor(2), AfterAck(ContextExecutor(2)), calls)


def test_what_follows_an_open_is_handed_over_once_slack_has_the_modal(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    seen: list[list[str]] = []
    done = threading.Event()

    def fill() -> None:  # on a work thread, after views.open was answered
        seen.append([v["external_id"] for v in slack.views.by_id.values()])
        done.set()

    opener = opener_for(calls)
    opener.open(client_for(slack), "1.2.t", modal("m-1"), what="create", then=fill)
    assert done.wait(WAIT)
    assert seen == [["m-1"]]


def test_the_opener_opens_and_the_filler_waits_for_it(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    opener = opener_for(calls)
    opener.open(client_for(slack), "1.2.t", modal("connect-create-1"), what="create").result(WAIT)
    assert [v["external_id"] for v in slack.views.by_id.values()] == ["connect-create-1"]


def test_slacks_refusal_is_logged_once_and_not_sent_again(
    slack: FakeSlackServer, calls: SlackCalls, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail_next("views.open", error="expired_trigger_id")
    opener = opener_for(calls)
    with caplog.at_level(logging.WARNING):
        opener.open(client_for(slack), "1.2.t", modal("m-1"), what="create").result(WAIT)
    assert "could not open the create modal: expired_trigger_id" in caplog.text
    assert len(slack.calls_to("views.open")) == 1


def test_a_failed_call_is_sent_once_more_through_webclient(
    slack: FakeSlackServer, calls: SlackCalls, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail_next("views.open", status=503)
    opener = opener_for(calls)
    with caplog.at_level(logging.WARNING):
        opener.open(client_for(slack), "1.2.t", modal("m-1"), what="create").result(WAIT)
    assert [call.status for call in slack.calls_to("views.open")] == [503, 200]
    assert [v["external_id"] for v in slack.views.by_id.values()] == ["m-1"]
    assert "could not open" not in caplog.text


def test_a_view_that_cannot_be_sent_is_logged_as_our_fault(
    calls: SlackCalls, slack: FakeSlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    opener = opener_for(calls)
    view = {**modal("m-1"), "private_metadata": object()}
    with caplog.at_level(logging.ERROR):
        opener.open(client_for(slack), "1.2.t", view, what="create").result(WAIT)
    assert "opening the create modal failed" in caplog.text
    assert slack.calls_to("views.open") == []


def test_a_client_libcurl_cannot_send_for_opens_through_webclient(calls: SlackCalls) -> None:
    """A plain WebClient (as one with a proxy of its own): its calls keep to urllib."""
    with FakeSlackServer() as proxy_target:
        opener = opener_for(calls)
        client = WebClient(token=proxy_target.token, base_url=proxy_target.api_url)
        opener.open(client, "1.2.t", modal("m-1"), what="create").result(WAIT)
        assert len(proxy_target.calls_to("views.open")) == 1
    assert calls._thread is None  # the call loop was never needed


def test_a_call_past_its_deadline_before_it_is_sent_fails_unsent(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    client = client_for(slack)
    late = calls.call(
        client,
        "views.open",
        {"trigger_id": "1", "view": modal("m-1")},
        deadline=time.monotonic() - 1,
    )
    in_time = calls.call(
        client,
        "views.open",
        {"trigger_id": "2", "view": modal("m-2")},
        deadline=time.monotonic() + WAIT,
    )
    with pytest.raises(SlackCallFailed) as failed:
        late.result(WAIT)
    assert failed.value.expired
    assert in_time.result(WAIT)["ok"] is True
    assert [call.params["trigger_id"] for call in slack.calls_to("views.open")] == ["2"]


def test_calls_beyond_the_connection_limit_wait_their_turn_and_expire_there(
    slack: FakeSlackServer, calls: SlackCalls
) -> None:
    """MAX_CONNECTIONS calls are held by Slack; the next waits in the loop, not in libcurl:
    its deadline passes there and it is never sent, while the held ones are all answered."""
    release = threading.Event()
    arrived: list[str] = []
    answer_call = slack.api.call

    def held(method: str, params: dict[str, Any], *, token: str | None) -> dict[str, Any]:
        arrived.append(params["trigger_id"])
        if params["trigger_id"].startswith("held"):
            release.wait(WAIT)
        return answer_call(method, params, token=token)

    slack.api.call = held  # type: ignore[method-assign]
    client = client_for(slack)
    first = [
        calls.call(client, "views.open", {"trigger_id": f"held{n}", "view": modal(f"h{n}")})
        for n in range(MAX_CONNECTIONS)
    ]
    waiting = calls.call(
        client,
        "views.open",
        {"trigger_id": "late", "view": modal("late")},
        deadline=time.monotonic() + 0.3,
    )
    give_up = time.monotonic() + WAIT / 2
    while len(arrived) < MAX_CONNECTIONS and time.monotonic() < give_up:
        time.sleep(0.01)
    assert len(arrived) == MAX_CONNECTIONS  # every connection taken, by the held calls
    time.sleep(0.5)  # past the waiting call's deadline
    release.set()
    assert all(future.result(WAIT)["ok"] for future in first)
    with pytest.raises(SlackCallFailed) as failed:
        waiting.result(WAIT)
    assert failed.value.expired
    assert "late" not in arrived


def test_an_open_whose_trigger_expired_while_it_waited_is_dropped_not_sent_again(
    slack: FakeSlackServer,
    calls: SlackCalls,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(modal_opener, "TRIGGER_LIFE", -1.0)  # expired before it is taken
    opener = opener_for(calls)
    with caplog.at_level(logging.WARNING):
        opener.open(client_for(slack), "1.2.t", modal("m-1"), what="create").result(WAIT)
    assert "could not open the create modal: Slack calls backed up past its trigger" in caplog.text
    assert slack.calls_to("views.open") == []  # nor through WebClient
