"""Synced threads over HTTP (SPEC §13): replies become Jira comments, edits and deletions
follow, nothing echoes, and every reply reaches Jira exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clients.jira_client import JiraComment
from models import ProcessedDelivery, SyncedReply
from services.thread_sync.replies import REPLY_SOURCE
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import (
    RunningConnect,
    connect_settings,
    running_connect,
    wait_settled,
)
from tests.e2e.slack_events import TEAM_ID, block_action, message_event, send_event
from tests.waiting import wait_until

CHANNEL = "C0GENERAL"


@pytest.fixture
def team(connect: RunningConnect) -> RunningConnect:
    return seeded(connect)


def seeded(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_channel(CHANNEL, "general", members=["U0ALICE", "U0BOB"])
    return connect


# -- helpers ----------------------------------------------------------------------------------


def synced_thread(connect: RunningConnect, key: str = "OPS-1") -> str:
    """`/jira link KEY --sync`: the card posted in the channel, whose thread is synced."""
    response, response_url = connect.slash(f"link {key} --sync")
    assert response.status_code == 200
    told = wait_until(lambda: connect.slack.responses(response_url), what="the command's answer")
    assert "synced thread" in told[-1]["text"], told
    card = next(m for m in connect.slack.slack.top_level(CHANNEL) if key in m.text)
    assert "replies in it become Jira comments" in card.text
    return card.ts


def reply(
    connect: RunningConnect, thread: str, text: str, *, user: str = "U0BOB", **extra: Any
) -> dict[str, Any]:
    """A reply written in Slack (kept by the fake Slack) and its event sent to Connect."""
    posted = connect.slack.slack.add_message(CHANNEL, text, user=user, thread_ts=thread)
    event = message_event(text, user=user, ts=posted.ts, thread_ts=thread, **extra)
    send_event(connect, event)
    return event


def edit(connect: RunningConnect, original: dict[str, Any], text: str, edited_ts: str) -> None:
    message = {**original, "text": text, "edited": {"user": original["user"], "ts": edited_ts}}
    send_event(
        connect,
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": CHANNEL,
            "ts": edited_ts,
            "event_ts": edited_ts,
            "channel_type": "channel",
            "message": message,
            "previous_message": original,
        },
    )


def delete(connect: RunningConnect, original: dict[str, Any], when: str) -> None:
    send_event(
        connect,
        {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": CHANNEL,
            "ts": when,
            "event_ts": when,
            "deleted_ts": original["ts"],
            "channel_type": "channel",
            "previous_message": original,
        },
    )


def comments(connect: RunningConnect, key: str = "OPS-1") -> list[JiraComment]:
    return connect.jira.jira.comments(key)


def comment_of(connect: RunningConnect, event: dict[str, Any], key: str = "OPS-1") -> JiraComment:
    stamp = event["ts"].replace(".", "")
    return wait_until(
        lambda: next((c for c in comments(connect, key) if f"/p{stamp}" in c.body), None),
        what=f"the comment of reply {event['ts']}",
    )


def thread_texts(connect: RunningConnect, thread: str) -> list[str]:
    return [m.text + str(m.blocks or "") for m in connect.slack.slack.thread(CHANNEL, thread)]


def reply_rows(connect: RunningConnect) -> list[ProcessedDelivery]:
    with connect.runtime.services.uow() as work:
        rows = work.session.scalars(
            select(ProcessedDelivery).where(ProcessedDelivery.source == REPLY_SOURCE)
        ).all()
        work.session.expunge_all()
        return list(rows)


# -- tests ------------------------------------------------------------------------------------


def test_a_reply_becomes_a_comment_and_its_edit_and_deletion_follow(team: RunningConnect) -> None:
    thread = synced_thread(team)
    before = len(comments(team))
    event = reply(team, thread, "The *backup* failed again, <@U0ALICE> can you look?")
    comment = comment_of(team, event)
    permalink = team.slack.slack.get_permalink(CHANNEL, event["ts"])
    assert comment.body.startswith("The *backup* failed again, @Alice Adams can you look?")
    assert comment.body.endswith(f"— Bob Baker (via Slack): {permalink}")
    assert len(comments(team)) == before + 1

    edit(team, event, "The _backup_ is fixed", "1700009999.000100")
    wait_until(
        lambda: next(c for c in comments(team) if c.id == comment.id).body.startswith(
            "The _backup_ is fixed"
        ),
        what="the comment to be edited",
    )
    delete(team, event, "1700010000.000100")
    wait_until(lambda: all(c.id != comment.id for c in comments(team)), what="the comment deleted")
    assert len(comments(team)) == before


def test_bots_connect_and_top_level_messages_are_not_sent(team: RunningConnect) -> None:
    thread = synced_thread(team)
    before = len(comments(team))
    reply(team, thread, "deploy finished", user="U0DEPLOYBOT", bot_id="B0DEPLOY")
    reply(
        team,
        thread,
        "deploy finished (broadcast)",
        user="U0DEPLOYBOT",
        bot_id="B0DEPLOY",
        subtype="thread_broadcast",
    )
    reply(team, thread, "Connect's own note", user="UCONNECTBOT")
    send_event(team, message_event("a top-level message", user="U0BOB"))
    marker = reply(team, thread, "a person's reply")
    comment_of(team, marker)
    wait_settled(team)
    assert len(comments(team)) == before + 1


def test_slack_retries_and_a_restart_make_no_second_comment(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    settings = connect_settings(fake_slack, fake_jira, tmp_path / "connect.db")
    with running_connect(settings, fake_slack, fake_jira) as first:
        seeded(first)
        thread = synced_thread(first)
        event = reply(first, thread, "only once, please")
        for attempt in (1, 2):
            send_event(first, event, event_id="EvRETRIED", retry=attempt)
        comment_of(first, event)
        wait_settled(first)
    with running_connect(settings, fake_slack, fake_jira) as second:
        send_event(second, event, event_id="EvAFTERRESTART", retry=3)
        marker = reply(second, thread, "and this one after the restart")
        comment_of(second, marker)
        wait_settled(second)
    stamp = event["ts"].replace(".", "")
    assert [c for c in comments(second) if f"/p{stamp}" in c.body] != []
    assert len([c for c in comments(second) if f"/p{stamp}" in c.body]) == 1


def test_a_process_killed_after_jira_answered_makes_no_duplicate(team: RunningConnect) -> None:
    """The reply's row (with its permalink) is written before Jira is called: a process that
    died after Jira made the comment, before noting it, left a row without a comment id and
    a lease that ran out. The next try finds the comment by its permalink instead."""
    thread = synced_thread(team)
    team.slack.slack.add_message(CHANNEL, "made before the crash", user="U0BOB", thread_ts=thread)
    posted = team.slack.slack.thread(CHANNEL, thread)[-1]
    permalink = team.slack.slack.get_permalink(CHANNEL, posted.ts)
    made = team.jira.jira.add_comment("OPS-1", f"made before the crash\n\n— Bob: {permalink}")
    with team.runtime.services.uow() as work:
        work.session.add(
            SyncedReply(
                team_id=TEAM_ID,
                channel_id=CHANNEL,
                message_ts=posted.ts,
                thread_ts=thread,
                issue_id=team.jira.jira.get_issue("OPS-1").id,
                issue_key="OPS-1",
                slack_user_id="U0BOB",
                permalink=permalink,
            )
        )
        work.commit()
    event = message_event("made before the crash", user="U0BOB", ts=posted.ts, thread_ts=thread)
    send_event(team, event)
    wait_settled(team)
    assert [c.id for c in comments(team) if permalink in c.body] == [made.id]
    with team.runtime.services.uow() as work:
        row = work.session.scalars(select(SyncedReply)).one()
        assert row.comment_id == made.id


def test_an_edit_that_comes_before_its_reply_is_applied_once(team: RunningConnect) -> None:
    thread = synced_thread(team)
    posted = team.slack.slack.add_message(CHANNEL, "first words", user="U0BOB", thread_ts=thread)
    original = message_event("first words", user="U0BOB", ts=posted.ts, thread_ts=thread)
    edit(team, original, "second words", "1700020000.000100")
    comment = comment_of(team, original)
    send_event(team, original)  # Slack's late delivery of the reply itself
    wait_settled(team)
    stamp = original["ts"].replace(".", "")
    mine = [c for c in comments(team) if f"/p{stamp}" in c.body]
    assert [c.id for c in mine] == [comment.id]
    assert mine[0].body.startswith("second words")


def test_no_echo_either_way(team: RunningConnect) -> None:
    thread = synced_thread(team)
    emitter = team.emit_jira_webhooks()
    try:
        jira = team.jira.jira
        carol = jira.add_user("carol@example.com", "Carol Jones", "acc-carol")
        event = reply(team, thread, "from Slack, not to be echoed")
        with jira.act_as(carol):  # within the same second, someone writes in Jira
            jira.add_comment("OPS-1", "from Jira, to be told in the thread")
        comment_of(team, event)
        wait_until(
            lambda: any("from Jira, to be told" in t for t in thread_texts(team, thread)),
            what="the Jira comment in the thread",
        )
        emitter.flush()
        wait_settled(team)
        connects = [
            m.text + str(m.blocks)
            for m in team.slack.slack.thread(CHANNEL, thread)[1:]
            if m.user == "UCONNECTBOT"
        ]
        assert any("from Jira, to be told" in t for t in connects)
        assert not any("not to be echoed" in t for t in connects), connects
        # Connect's post of the Jira comment, seen by Connect as a message: never sent back.
        told = next(
            m for m in team.slack.slack.thread(CHANNEL, thread) if "from Jira" in str(m.blocks)
        )
        send_event(
            team,
            message_event(
                told.text, user="UCONNECTBOT", ts=told.ts, thread_ts=thread, bot_id="BCONNECTBOT"
            ),
        )
        wait_settled(team)
        assert sum("from Jira, to be told" in c.body for c in comments(team)) == 1
    finally:
        emitter.stop()


def test_jira_down_then_back_sends_the_replies_in_order(team: RunningConnect) -> None:
    thread = synced_thread(team)
    team.jira.fail_next(503, times=10_000, path="/comment")
    events = [reply(team, thread, f"reply number {n}") for n in range(1, 4)]
    wait_until(
        lambda: any(row.outages > 0 for row in reply_rows(team)), what="a reply to meet Jira away"
    )
    assert not any("reply number" in c.body for c in comments(team))
    team.jira.reset()
    made = [comment_of(team, event) for event in events]
    assert [int(c.id) for c in made] == sorted(int(c.id) for c in made)
    assert all(row.attempts == 0 for row in reply_rows(team))


def test_a_reply_jira_refuses_is_told_to_its_author_once(team: RunningConnect) -> None:
    thread = synced_thread(team)
    # Jira refuses Connect's account the comment (403: no permission on the issue). A deleted
    # issue is not used here: the poller, running as the worker starts, may retire its link
    # first, and the thread then stops syncing (nothing sent, nothing to tell).
    team.jira.fail_next(403, times=1, path="/comment")
    reply(team, thread, "nobody will read this in Jira")
    note = wait_until(
        lambda: [e for e in team.slack.slack.ephemerals if e.user == "U0BOB"],
        what="the note to the reply's author",
    )
    wait_settled(team)
    assert len(note) == 1 and "not added to Jira" in note[0].text
    assert "Jira refused it" in note[0].text
    assert not any("nobody will read" in c.body for c in comments(team))


def test_the_cards_switch_turns_sync_on_and_off_visibly(team: RunningConnect) -> None:
    """A thread linked by the link shortcut starts unsynced (the channel's default) with the
    switch on its card; pressing it says so in the thread."""
    parent = team.slack.slack.add_message(CHANNEL, "Backups failing", user="U0BOB")
    team.runtime.services.links.link_message(_ref(parent.ts), "U0ALICE", "OPS-1")
    card_blocks = _switch_card(False)
    card = team.slack.slack.add_message(
        CHANNEL, "Linked to OPS-1", user="UCONNECTBOT", thread_ts=parent.ts, blocks=card_blocks
    )
    before = len(comments(team))
    unsent = reply(team, parent.ts, "before the switch")
    _press(team, card.ts, parent.ts, card_blocks, "on:OPS-1")
    wait_until(
        lambda: any("turned on sync" in t for t in thread_texts(team, parent.ts)),
        what="the thread to be told sync is on",
    )
    sent = reply(team, parent.ts, "after the switch")
    comment_of(team, sent)
    _press(team, card.ts, parent.ts, _switch_card(True), "off:OPS-1")
    wait_until(
        lambda: any("stopped syncing" in t for t in thread_texts(team, parent.ts)),
        what="the thread to be told sync is off",
    )
    reply(team, parent.ts, "after it was turned off")
    wait_settled(team)
    bodies = [c.body for c in comments(team)]
    assert len(bodies) == before + 1
    assert not any(unsent["text"] in body for body in bodies)
    updated = team.slack.calls_to("chat.update")
    assert any("Stop syncing" in str(call.params.get("blocks")) for call in updated)


def test_the_channel_default_syncs_new_links(team: RunningConnect) -> None:
    response, url = team.slash("settings sync on")
    assert response.status_code == 200
    said = wait_until(lambda: team.slack.responses(url), what="the settings answer")
    assert "now *sync*" in said[-1]["text"]
    response, url = team.slash("link OPS-2")
    wait_until(lambda: team.slack.responses(url), what="the link answer")
    card = next(m for m in team.slack.slack.top_level(CHANNEL) if "OPS-2" in m.text)
    assert "channel's default" in card.text
    event = reply(team, card.ts, "synced by default")
    comment_of(team, event, "OPS-2")


# -- small helpers ----------------------------------------------------------------------------


def _ref(ts: str) -> Any:
    from services.issues.links import MessageRef

    return MessageRef(TEAM_ID, CHANNEL, ts, None)


def _switch_card(on: bool) -> list[dict[str, Any]]:
    from handlers.thread_sync import sync_switch

    return [sync_switch("OPS-1", on)]


def _press(
    connect: RunningConnect, ts: str, thread: str, blocks: list[dict[str, Any]], value: str
) -> None:
    button = blocks[0]["accessory"]
    payload = block_action(
        {**button, "block_id": blocks[0]["block_id"], "value": value, "type": "button"},
        message={"ts": ts, "thread_ts": thread, "text": "Linked to OPS-1", "blocks": blocks},
        response_url=connect.slack.response_url(),
    )
    assert connect.interact(payload).status_code == 200


def test_a_synced_thread_in_a_private_channel_says_what_jira_will_show(
    team: RunningConnect,
) -> None:
    team.slack.slack.add_channel("G0SECRET", "secret", members=["U0ALICE"], is_private=True)
    response, url = team.slash("link OPS-1 --sync", channel="G0SECRET")
    assert response.status_code == 200
    wait_until(lambda: team.slack.responses(url), what="the link answer")
    card = next(m for m in team.slack.slack.top_level("G0SECRET") if "OPS-1" in m.text)
    assert "private conversation" in card.text and "visible to everyone" in card.text


def test_jiras_echo_that_overtakes_the_bookkeeping_is_still_kept_out(
    team: RunningConnect,
) -> None:
    """Jira may deliver the webhook of a comment before Connect has noted the comment's id
    (both within a second): the reply's permalink, noted before Jira was called, is enough."""
    from datetime import UTC, datetime

    from simulators.jira_site.webhooks import comment_json, issue_json, user_json

    thread = synced_thread(team)
    posted = team.slack.slack.add_message(CHANNEL, "in flight", user="U0BOB", thread_ts=thread)
    permalink = team.slack.slack.get_permalink(CHANNEL, posted.ts)
    issue = team.jira.jira.get_issue("OPS-1")
    with team.runtime.services.uow() as work:  # the row as written just before Jira is called
        work.session.add(
            SyncedReply(
                team_id=TEAM_ID,
                channel_id=CHANNEL,
                message_ts=posted.ts,
                thread_ts=thread,
                issue_id=issue.id,
                issue_key="OPS-1",
                slack_user_id="U0BOB",
                permalink=permalink,
            )
        )
        work.commit()
    me = team.jira.jira.myself()
    now = datetime.now(UTC)
    for number, body in enumerate(
        (f"in flight\n\n— Bob Baker (via Slack): {permalink}", "written in Jira meanwhile")
    ):
        comment = JiraComment(str(80_000 + number), body, me, now, now)
        payload = {
            "timestamp": 1795670000000 + number,
            "webhookEvent": "comment_created",
            "user": user_json(me, cloud=True),
            "issue": issue_json(issue, cloud=True),
            "comment": comment_json(comment, cloud=True),
        }
        assert team.jira_webhook(payload).status_code == 200
    wait_until(
        lambda: any("written in Jira meanwhile" in t for t in thread_texts(team, thread)),
        what="the other comment in the thread",
    )
    wait_settled(team)
    told = [
        m.text + str(m.blocks)
        for m in team.slack.slack.thread(CHANNEL, thread)
        if m.user == "UCONNECTBOT"
    ]
    assert not any("in flight" in t for t in told), told
