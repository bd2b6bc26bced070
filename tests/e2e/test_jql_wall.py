"""`JIRA_PROJECTS` is a wall for typed JQL (SPEC §11), through signed requests: searches,
the issue picker, `/jira subscribe` and `@Connect subscribe` never let Jira see JQL that
reaches past `project in (…)`, and a stored filter Connect cannot read fails only itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from models import ChannelSubscription
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect
from tests.e2e.slack_events import TEAM_ID, next_ts, send_event
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_message_shortcuts import options
from tests.e2e.test_subscriptions import posts, wait_for_posts
from tests.fuzz.jql_wall import assert_inside_the_wall
from tests.waiting import wait_until

WALL = "project in (OPS) AND ("
BREAK_OUT = "project = OPS) OR (project = WEB AND summary ~ checkout"


@pytest.fixture
def walled(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> Iterator[RunningConnect]:
    settings = connect_settings(fake_slack, fake_jira, tmp_path / "c.db", jira_projects=("OPS",))
    slack = fake_slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    for channel, name in (("C0GENERAL", "general"), ("C0OPS", "ops"), ("C0HOT", "hot")):
        slack.add_channel(channel, name, members=["U0ALICE"])
    with running_connect(settings, fake_slack, fake_jira) as running:
        yield running


def searched_jql(jira: FakeJiraServer) -> list[str]:
    """Every JQL the fake Jira was asked, from the query string or the JSON body."""
    found = []
    for request in jira.requests:
        if request.path.rstrip("/").endswith(("/search", "/search/jql")):
            body = request.body if isinstance(request.body, dict) else {}
            found.append(str(body.get("jql") or request.query.get("jql", [""])[0]))
    return found


def ask(connect: RunningConnect, text: str, **fields: str) -> str:
    _, response_url = connect.slash(text, **fields)
    return str(wait_for_response(connect, response_url)["text"])


# -- search and pickers -----------------------------------------------------------------------


def test_a_search_that_breaks_out_of_the_wall_is_refused_before_jira(
    walled: RunningConnect,
) -> None:
    # WEB-1 is "Checkout button misaligned on mobile": if Jira saw the break-out, the hidden
    # issue's match would change what Connect answers (a count, an empty list, an error).
    for hidden in ("checkout", "nothing-like-this"):
        refused = ask(walled, f"search {BREAK_OUT.replace('checkout', hidden)}")
        assert "not JQL I can pass on" in refused and "no opening one" in refused
    assert searched_jql(walled.jira) == []


@pytest.mark.parametrize(
    "typed",
    [
        'summary ~ "a" ) OR project = WEB OR summary ~ "b"',
        'summary ~ "a\\" ) OR project = WEB OR (summary ~ "',
        "status = Done ORDER BY key) OR (project = WEB",
        "status = Done ORDER BY key ORDER BY created",
        '"',
        ")(",
    ],
)
def test_quotes_escapes_and_order_by_cannot_open_the_wall(
    walled: RunningConnect, typed: str
) -> None:
    answer = ask(walled, f"search {typed}")
    sent = searched_jql(walled.jira)
    if "not JQL I can pass on" in answer:
        assert sent == []
    for jql in sent:  # what parsed is one filter, in one pair of brackets
        assert_inside_the_wall(jql)
    assert "WEB-" not in answer


def test_jql_naming_what_is_hidden_is_refused_and_the_rest_is_wrapped(
    walled: RunningConnect,
) -> None:
    for typed in ("key = WEB-1", "project in (OPS, WEB)", "issue in linkedIssues(WEB-1)"):
        assert "Connect looks only inside OPS: your JQL names" in ask(walled, f"search {typed}")
    assert searched_jql(walled.jira) == []
    ask(walled, "search status != Done OR priority = High order by key desc")
    (sent,) = searched_jql(walled.jira)
    assert sent == f"{WALL}status != Done OR priority = High) ORDER BY key DESC"


def test_words_are_a_quoted_text_search_inside_the_wall(walled: RunningConnect) -> None:
    ask(walled, 'search backup "replica')
    (sent,) = searched_jql(walled.jira)
    assert sent == f'{WALL}text ~ "backup \\"replica")'


def test_the_issue_picker_refuses_a_break_out_and_wraps_the_rest(walled: RunningConnect) -> None:
    assert options(walled, BREAK_OUT) == []
    assert searched_jql(walled.jira) == []
    picked = options(walled, "priority = High")
    assert all(option["value"].startswith("OPS-") for option in picked)
    (sent,) = searched_jql(walled.jira)
    assert sent == f"{WALL}priority = High)"


# -- subscribe --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filter_text",
    [
        "project = WEB",
        "project in (OPS, WEB)",
        "key = WEB-1",
        "issuekey in (OPS-1, WEB-1)",
        'priority = High OR project = "WEB"',
        "OPS priority = High OR project = WEB",
        'issueFunction in subtasksOf("project = WEB")',
    ],
)
def test_subscribe_refuses_a_filter_that_names_a_project_outside_the_wall(
    walled: RunningConnect, filter_text: str
) -> None:
    refused = ask(walled, f"subscribe {filter_text}", channel="C0OPS")
    assert "Connect looks only inside OPS: your JQL names" in refused
    assert searched_jql(walled.jira) == []  # not even Jira's check: its errors would tell
    with walled.runtime.services.uow() as work:
        assert work.session.scalar(select(func.count()).select_from(ChannelSubscription)) == 0


def test_subscribe_by_mention_is_held_to_the_wall_too(walled: RunningConnect) -> None:
    send_event(walled, _mention("<@UCONNECTBOT> subscribe key = WEB-1"))
    (reply,) = wait_until(lambda: posts_by_bot(walled, "C0GENERAL"))
    assert "Connect looks only inside OPS" in reply["text"]
    assert searched_jql(walled.jira) == []


def test_a_filter_is_checked_by_jira_inside_the_wall(walled: RunningConnect) -> None:
    made = ask(walled, "subscribe OPS priority = High OR labels = db", channel="C0OPS")
    assert "Subscribed this channel (#1)" in made
    (checked,) = searched_jql(walled.jira)
    assert checked == f'{WALL}project = "OPS" AND (priority = High OR labels = db))'
    refused = ask(walled, "subscribe status = Done) OR (project = WEB", channel="C0OPS")
    assert "not JQL I can pass on" in refused
    assert len(searched_jql(walled.jira)) == 1


# -- stored filters ---------------------------------------------------------------------------


def test_a_stored_filter_nested_400_deep_fails_only_its_own_subscription(
    walled: RunningConnect,
) -> None:
    """Stored before filters were checked: reading it must not fail the delivery for all."""
    deep = "(" * 400 + "priority = High" + ")" * 400
    with walled.runtime.services.uow() as work:
        work.session.add(
            ChannelSubscription(
                team_id=TEAM_ID,
                channel_id="C0HOT",
                number=1,
                project_key="OPS",
                jql=deep,
                event_kinds="created,transitioned,commented,assigned,resolved",
                created_by="U0ALICE",
                active=True,
            )
        )
        work.commit()
    assert "(#1)" in ask(walled, "subscribe OPS", channel="C0OPS")
    emitter = walled.emit_jira_webhooks()
    try:
        created = walled.jira.jira.add_issue("OPS", "Payments API returns 502", priority="High")
        emitter.flush()
        (post,) = wait_for_posts(walled, "C0OPS", 1)
        assert created.key in post.text
        assert posts(walled, "C0HOT") == []
    finally:
        emitter.stop()


def _mention(text: str) -> dict[str, Any]:
    stamp = next_ts()
    return {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": text,
        "ts": stamp,
        "channel": "C0GENERAL",
        "event_ts": stamp,
        "team": TEAM_ID,
    }


def posts_by_bot(connect: RunningConnect, channel: str) -> list[dict[str, Any]]:
    return [
        {"text": message.text}
        for message in connect.slack.slack.messages.get(channel, [])
        if message.user == connect.slack.slack.bot_user_id
    ]


def test_a_refusal_echoes_nothing_that_could_ping_or_link(walled: RunningConnect) -> None:
    for typed in (
        "status = Done AND &lt;!channel&gt;",
        "project = &lt;https://evil.example|WEB&gt;",
        "subscribe project = &lt;!here&gt;",
    ):
        text = typed if typed.startswith("subscribe") else f"search {typed}"
        answer = ask(walled, text, channel="C0OPS")
        assert "<" not in answer and ">" not in answer, answer
    assert searched_jql(walled.jira) == []
