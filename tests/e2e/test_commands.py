"""`/jira show | search | transition` and the card's Share button, through signed requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from services.issues.links import INVITE_FIRST
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect
from tests.waiting import wait_until


def wait_for_response(
    connect: RunningConnect, response_url: str, timeout: float = 10
) -> dict[str, Any]:
    posts = wait_until(
        lambda: connect.slack.responses(response_url),
        timeout=timeout,
        what="an answer on the response URL",
    )
    return posts[-1]  # type: ignore[no-any-return]


def test_show_acks_at_once_then_answers_with_the_card(connect: RunningConnect) -> None:
    response, response_url = connect.slash("show OPS-1")
    assert response.status_code == 200
    assert response.text == ""  # an empty ack; the card follows through response_url
    card = wait_for_response(connect, response_url)
    assert card["response_type"] == "ephemeral"
    text = str(card["blocks"])
    assert "OPS-1" in text and "Share in channel" in text and "Open in Jira" in text


def test_a_bare_key_and_lower_case_show_the_issue(connect: RunningConnect) -> None:
    _, response_url = connect.slash("ops-2")
    assert "OPS-2" in wait_for_response(connect, response_url)["text"]


def test_unknown_issue_is_not_found(connect: RunningConnect) -> None:
    _, response_url = connect.slash("show OPS-999")
    assert "can't find *OPS-999*" in wait_for_response(connect, response_url)["text"]


def test_acks_never_wait_for_a_slow_jira(connect: RunningConnect) -> None:
    # Causal, not timed: every ack is back before Jira has answered anything the work needs.
    connect.jira.delay_seconds = 6
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: connect.slash("show OPS-1"), range(20)))
    assert all(response.status_code == 200 for response, _ in answers)
    assert all(connect.slack.responses(url) == [] for _, url in answers)  # no card yet
    for _, response_url in answers:
        assert "OPS-1" in wait_for_response(connect, response_url, timeout=60)["text"]


def test_jira_down_gives_a_clear_message(connect: RunningConnect) -> None:
    connect.jira.fail_next(503, times=50)
    _, response_url = connect.slash("show OPS-1")
    answer = wait_for_response(connect, response_url, timeout=20)
    assert "Jira is not reachable" in answer["text"]
    assert "Traceback" not in answer["text"]


@pytest.mark.parametrize(("budget", "attempts"), [(0.0, 1), (1.0, 2)])
def test_the_retry_budget_setting_bounds_how_long_a_throttled_jira_is_retried(
    fake_slack: FakeSlackServer,
    fake_jira: FakeJiraServer,
    tmp_path: Path,
    budget: float,
    attempts: int,
) -> None:
    """JIRA_RETRY_BUDGET_SECONDS reaches the Jira client: back-off sleeps 0.5 s, then 1 s, so a
    budget of 0 s allows one attempt and 1 s allows two."""
    settings = connect_settings(
        fake_slack, fake_jira, tmp_path / "connect.db", jira_retry_budget_seconds=budget
    )
    with running_connect(settings, fake_slack, fake_jira) as connect:
        wait_for_response(connect, connect.slash("show OPS-2")[1])
        asked = len(connect.jira.paths())
        connect.jira.fail_next(503, times=50, path="OPS-1")
        answer = wait_for_response(connect, connect.slash("show OPS-1")[1])
        assert "Jira is not reachable" in answer["text"]
        assert len([p for p in connect.jira.paths()[asked:] if "OPS-1" in p]) == attempts


def test_search_by_text_and_by_jql(connect: RunningConnect) -> None:
    issue = connect.jira.jira.get_issue("OPS-1")
    word = issue.summary.split()[0]
    _, by_text = connect.slash(f"search {word}")
    assert "OPS-1" in str(wait_for_response(connect, by_text)["blocks"])
    _, by_jql = connect.slash("search project = WEB ORDER BY key")
    found = str(wait_for_response(connect, by_jql)["blocks"])
    assert "WEB-1" in found and "OPS-1" not in found


def test_a_command_mentioning_payload_is_read_as_a_command(connect: RunningConnect) -> None:
    # Bolt's own body parser reads any form body containing "payload" as an interaction
    # (and finds none): Connect reads the body once, as Slack sends it, and gives Bolt that.
    response, by_text = connect.slash("search payload")
    assert response.status_code == 200
    answer = wait_for_response(connect, by_text)
    assert "payload" in str(answer)
    response, comment_url = connect.slash("comment OPS-1 the payload was empty")
    assert response.status_code == 200
    assert "Added your comment" in wait_for_response(connect, comment_url)["text"]
    assert "the payload was empty" in connect.jira.jira.comments("OPS-1")[-1].body


def test_transition_by_status_name_case_insensitive(connect: RunningConnect) -> None:
    _, response_url = connect.slash("move OPS-2 in progress")
    answer = wait_for_response(connect, response_url)
    assert "Moved *OPS-2* To Do → In Progress" in answer["text"]
    assert connect.jira.jira.get_issue("OPS-2").status == "In Progress"
    _, again = connect.slash("move OPS-2 In Progress")
    assert "already In Progress" in wait_for_response(connect, again)["text"]


def test_transition_to_an_unknown_status_lists_the_choices(connect: RunningConnect) -> None:
    _, response_url = connect.slash("transition OPS-1 Launched")
    text = wait_for_response(connect, response_url)["text"]
    assert "can't move to “Launched”" in text and "It can move to:" in text


def test_missing_arguments_get_usage_in_the_ack(connect: RunningConnect) -> None:
    response, _ = connect.slash("move OPS-1")
    assert "Usage: `/jira transition KEY STATUS" in response.json()["text"]


def test_share_button_posts_the_card_in_the_channel(connect: RunningConnect) -> None:
    connect.slack.slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
    response_url = connect.slack.response_url()
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM", "domain": "acme"},
        "user": {"id": "U0ALICE", "team_id": "T0TEAM"},
        "api_app_id": "A0CONNECT",
        "channel": {"id": "C0GENERAL", "name": "general"},
        "container": {"type": "message", "is_ephemeral": True},
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": "share_issue",
                "block_id": "issue:OPS-1",
                "value": "OPS-1",
            }
        ],
    }
    assert connect.interact(payload).status_code == 200
    posted = connect.slack.wait_for("chat.postMessage")
    assert posted.params["channel"] == "C0GENERAL"
    assert "OPS-1" in str(posted.params["blocks"])
    assert wait_for_response(connect, response_url)["delete_original"] is True


def test_share_where_the_bot_is_not_asks_to_invite_it(connect: RunningConnect) -> None:
    connect.slack.slack.add_channel("C0QUIET", "quiet", members=["U0ALICE"], bot_is_member=False)
    response_url = connect.slack.response_url()
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM", "domain": "acme"},
        "user": {"id": "U0ALICE", "team_id": "T0TEAM"},
        "channel": {"id": "C0QUIET", "name": "quiet"},
        "container": {"type": "message", "is_ephemeral": True},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": "share_issue", "value": "OPS-1"}],
    }
    assert connect.interact(payload).status_code == 200
    told = wait_for_response(connect, response_url)
    assert told["response_type"] == "ephemeral"
    assert told["replace_original"] is False  # the card clicked stays
    assert told["text"] == INVITE_FIRST
    assert connect.slack.slack.messages["C0QUIET"] == []


def test_projects_outside_jira_projects_never_show(fake_slack, fake_jira, tmp_path) -> None:
    import threading

    from bot.container import build_bolt_app, build_runtime, build_web_app
    from bot.server import WebServer
    from tests.e2e.conftest import connect_settings

    settings = connect_settings(fake_slack, fake_jira, tmp_path / "c.db", jira_projects=("OPS",))
    runtime = build_runtime(settings)
    server = WebServer(build_web_app(runtime, build_bolt_app(runtime)), host="127.0.0.1", port=0)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        connect = RunningConnect(server.url, runtime, fake_slack, fake_jira)
        _, shown = connect.slash("show WEB-1")
        assert "can't find *WEB-1*" in wait_for_response(connect, shown)["text"]
        _, refused = connect.slash("search project = WEB OR project = OPS")
        assert "Connect looks only inside OPS" in wait_for_response(connect, refused)["text"]
        _, searched = connect.slash("search status != Done OR project = OPS")
        found = str(wait_for_response(connect, searched)["blocks"])
        assert "WEB-" not in found and "OPS-1" in found
        assert not any("WEB-1" in request.path for request in fake_jira.requests)
    finally:
        server.close()
        runtime.close()


def test_search_jql_with_comparisons_as_slack_escapes_them(connect: RunningConnect) -> None:
    _, by_jql = connect.slash("search project = OPS AND created &gt;= -30d ORDER BY key")
    found = str(wait_for_response(connect, by_jql)["blocks"])
    assert "OPS-1" in found and "WEB-1" not in found
