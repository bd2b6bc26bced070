"""Files copied from Slack to Jira over HTTP (SPEC §13): read with the bot token, uploaded
through Jira's attachments resource (`X-Atlassian-Token: no-check`), each up to
JIRA_ATTACHMENT_MAX_MB; what was skipped is named, with why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect, wait_settled
from tests.e2e.slack_events import message_event, send_event
from tests.e2e.test_conversation_capture import (
    TICKED,
    create_shortcut_on,
    has_box,
    issue_named,
)
from tests.e2e.test_create_issue import form_values, option_value, submission, wait_for_view
from tests.e2e.test_message_shortcuts import ALICE, TEAM, open_modal, picked
from tests.e2e.test_thread_sync import comment_of, seeded, synced_thread
from tests.waiting import wait_until

CHANNEL = "C0GENERAL"
LOG = b"line 1\nline 2\n" * 5000  # 70 KB: more than one chunk of the download
BIG = b"\0" * (1024 * 1024 + 1)  # just over the 1 MB limit of these tests


@pytest.fixture
def team(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> Iterator[RunningConnect]:
    settings = connect_settings(
        fake_slack, fake_jira, tmp_path / "connect.db", jira_attachment_max_mb=1
    )
    with running_connect(settings, fake_slack, fake_jira) as running:
        yield seeded(running)


def test_create_attaches_the_threads_files_and_names_the_one_too_large(
    team: RunningConnect,
) -> None:
    parent, _ = team.slack.add_file(CHANNEL, "deploy.log", LOG, user="U0BOB", text="It broke")
    team.slack.add_file(CHANNEL, "core.dump", BIG, user="U0ALICE", thread_ts=parent.ts)
    team.interact(create_shortcut_on(parent, "trig-files", team))
    form = wait_for_view(team, has_box)
    task = option_value(form, "issue_type", "Task")
    team.interact(submission(form, form_values("OPS", task, "Deploy broke", **TICKED)))
    issue = wait_until(lambda: issue_named(team, "Deploy broke"), what="the issue")
    (attached,) = wait_until(lambda: team.jira.jira.attachments(issue.key), what="a file")
    assert attached.filename == "deploy.log"
    assert team.jira.jira.attachment_content(issue.key, attached.id) == LOG
    confirmation = wait_until(
        lambda: next(
            (m for m in team.slack.slack.thread(CHANNEL, parent.ts) if "Attached" in str(m.blocks)),
            None,
        ),
        what="the confirmation in the thread",
    )
    said = str(confirmation.blocks)
    assert "Attached to Jira: deploy.log" in said
    assert "Not attached: core.dump (1.0 MB, over the 1 MB limit)" in said
    upload = next(r for r in team.jira.requests if r.path.endswith("/attachments"))
    assert upload.headers.get("X-Atlassian-Token") == "no-check"
    assert team.slack.file_downloads == ["F0000001"]  # the large one was never read


def test_a_synced_reply_brings_its_file_and_its_author_hears_of_a_skipped_one(
    team: RunningConnect,
) -> None:
    thread = synced_thread(team)
    message, described = team.slack.add_file(
        CHANNEL, "screen.png", b"\x89PNG fake", user="U0BOB", text="see this", thread_ts=thread
    )
    event = message_event(
        "see this",
        user="U0BOB",
        ts=message.ts,
        thread_ts=thread,
        subtype="file_share",
        files=[described],
    )
    send_event(team, event)
    comment_of(team, event)
    wait_until(
        lambda: [a.filename for a in team.jira.jira.attachments("OPS-1")] == ["screen.png"],
        what="the reply's file on the issue",
    )
    # Slack says it is small; it is not: the download stops at the limit.
    lying, described = team.slack.add_file(
        CHANNEL, "huge.bin", BIG, user="U0BOB", thread_ts=thread, declared_size=10
    )
    event = message_event(
        "", user="U0BOB", ts=lying.ts, thread_ts=thread, subtype="file_share", files=[described]
    )
    send_event(team, event)
    note = wait_until(
        lambda: [e for e in team.slack.slack.ephemerals if "huge.bin" in e.text],
        what="the note about the file left out",
    )
    wait_settled(team)
    assert len(note) == 1 and "over the 1 MB limit" in note[0].text
    assert [a.filename for a in team.jira.jira.attachments("OPS-1")] == ["screen.png"]


def test_comment_on_an_issue_brings_the_messages_file(team: RunningConnect) -> None:
    message, _ = team.slack.add_file(CHANNEL, "trace.txt", LOG, user="U0BOB", text="the trace")
    payload = {
        "type": "message_action",
        "token": "deprecated",
        "action_ts": "1700000000.000100",
        "team": TEAM,
        "user": ALICE,
        "channel": {"id": CHANNEL, "name": "general"},
        "callback_id": "comment_on_issue_from_message",
        "trigger_id": "trig-comment-file",
        "response_url": team.slack.response_url(),
        "message_ts": message.ts,
        "message": {"type": "message", "user": "U0BOB", "ts": message.ts, "text": "the trace"},
    }
    view = open_modal(team, payload)
    assert team.interact(picked(view, "OPS-2")).json() == {"response_action": "clear"}
    wait_until(
        lambda: [a.filename for a in team.jira.jira.attachments("OPS-2")] == ["trace.txt"],
        what="the file on the issue",
    )
    said = wait_until(
        lambda: next(
            (
                m
                for m in team.slack.slack.thread(CHANNEL, message.ts)
                if "Attached" in str(m.blocks)
            ),
            None,
        ),
        what="the confirmation",
    )
    assert "Attached to Jira: trace.txt" in str(said.blocks)
