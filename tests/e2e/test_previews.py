"""Issue-key previews, Jira link unfurls, event dedupe and channel settings, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from models import ProcessedDelivery
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect
from tests.e2e.slack_events import (
    JSON,
    event_callback,
    message_event,
    next_ts,
    posts,
    row_counts,
    send_event,
    settle,
)
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_message_shortcuts import running_with
from tests.waiting import wait_until


@pytest.fixture
def team(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB"])
    slack.add_channel("G0SECRET", "secret", members=["U0ALICE"], is_private=True)
    return connect


def wait_for_posts(connect: RunningConnect, count: int, channel: str = "C0GENERAL") -> list:
    return wait_until(lambda: len(posts(connect, channel)) >= count and posts(connect, channel))


def preview_claims(connect: RunningConnect) -> int:
    with connect.runtime.services.uow() as work:
        rows = work.session.scalars(
            select(ProcessedDelivery).where(ProcessedDelivery.source == "slack_preview")
        ).all()
        return len(rows)


def jira_calls(connect: RunningConnect) -> int:
    return len(connect.jira.requests)


# -- previews ---------------------------------------------------------------------------------


def test_a_key_gets_one_compact_preview_in_its_thread(team: RunningConnect) -> None:
    ts = next_ts()
    send_event(team, message_event("Is OPS-1 fixed yet?", ts=ts))
    (preview,) = wait_for_posts(team, 1)
    assert preview["thread_ts"] == ts
    blocks = json.dumps(preview["blocks"])
    assert "OPS-1" in blocks and "Nightly database backup fails on replica" in blocks
    for action in ("card_assign_me", "card_transition", "card_comment", "open_in_jira"):
        assert action in blocks
    # The same key in the same thread within the hour: no second preview.
    send_event(team, message_event("OPS-1 again, sorry", thread_ts=ts))
    settle(team)
    assert len(posts(team)) == 1


def test_a_reply_is_previewed_in_its_thread_and_other_threads_get_their_own(
    team: RunningConnect,
) -> None:
    parent, other = next_ts(), next_ts()
    send_event(team, message_event("see ops-1 and OPS-2", thread_ts=parent))  # ops-1 is no key
    send_event(team, message_event("OPS-2 in another thread", ts=other))
    found = wait_for_posts(team, 2)
    assert sorted(p["thread_ts"] for p in found) == sorted([parent, other])


def test_several_keys_make_one_preview_listing_each(team: RunningConnect) -> None:
    send_event(team, message_event("OPS-1, OPS-2 and WEB-1 are related"))
    (preview,) = wait_for_posts(team, 1)
    blocks = json.dumps(preview["blocks"])
    assert all(key in blocks for key in ("OPS-1", "OPS-2", "WEB-1"))
    settle(team)
    assert len(posts(team)) == 1


def test_bots_edits_joins_and_connects_own_posts_get_no_preview(team: RunningConnect) -> None:
    send_event(team, message_event("OPS-1 deployed", bot_id="B0DEPLOY", subtype="bot_message"))
    send_event(team, message_event("OPS-1 via app", bot_id="B0OTHER"))
    send_event(team, message_event("OPS-1 by me", user="UCONNECTBOT"))
    send_event(team, message_event("<@U0ALICE> has joined OPS-1", subtype="channel_join"))
    edit = message_event("", subtype="message_changed", hidden=True)
    edit["message"] = {"type": "message", "user": "U0ALICE", "text": "OPS-1 edited", "ts": "1.2"}
    send_event(team, edit)
    send_event(team, message_event("OPS-1 broadcast", subtype="thread_broadcast"))
    settle(team)
    assert posts(team) == []


def test_plain_talk_costs_no_jira_call_and_no_database_write(team: RunningConnect) -> None:
    send_event(team, message_event("warming up"))  # the first request pays for auth.test
    settle(team)
    before_jira, before_rows = jira_calls(team), row_counts(team)
    for text in ("good morning", "lunch at 12?", "see https://example.com/ops-1", "ops-12"):
        send_event(team, message_event(text))
    settle(team)
    assert jira_calls(team) == before_jira
    assert row_counts(team) == before_rows
    assert posts(team) == []


def test_a_repeated_key_within_the_ttl_costs_no_jira_call(team: RunningConnect) -> None:
    send_event(team, message_event("OPS-1 here"))
    wait_for_posts(team, 1)
    calls = jira_calls(team)
    send_event(team, message_event("and OPS-1 in a new thread"))
    wait_for_posts(team, 2)
    assert jira_calls(team) == calls


def test_an_event_delivered_three_times_yields_one_preview(team: RunningConnect) -> None:
    event = message_event("OPS-2 is blocking")
    send_event(team, event, event_id="Ev0THRICE")
    send_event(team, event, event_id="Ev0THRICE", retry=1)
    send_event(team, event, event_id="Ev0THRICE", retry=2)
    wait_for_posts(team, 1)
    settle(team)
    assert len(posts(team)) == 1


def test_a_repeated_event_id_after_a_restart_is_not_acted_on(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    database = tmp_path / "shared.db"
    event = message_event("OPS-3 is done")
    body = json.dumps(event_callback(event, event_id="Ev0RESTART")).encode()
    with running_with(fake_slack, fake_jira, database) as first:
        assert first.post_slack(body, content_type=JSON).status_code == 200
        wait_for_posts(first, 1)
    # Forget the thread's preview claim: only the stored event id can stop a second post.
    with running_with(fake_slack, fake_jira, database) as second:
        with second.runtime.services.uow() as work:
            work.session.execute(
                delete(ProcessedDelivery).where(ProcessedDelivery.source == "slack_preview")
            )
            work.commit()
        headers = {"X-Slack-Retry-Num": "3", "X-Slack-Retry-Reason": "http_error"}
        assert second.post_slack(body, content_type=JSON, headers=headers).status_code == 200
        settle(second)
        assert len(posts(second)) == 1


def test_settings_previews_off_stops_previews_and_on_brings_them_back(
    team: RunningConnect,
) -> None:
    _, off = team.slash("settings previews off")
    assert "previews are now *off*" in wait_for_response(team, off)["text"]
    send_event(team, message_event("OPS-1 quietly"))
    settle(team)
    assert posts(team) == []
    _, shown = team.slash("settings")
    assert "Issue-key previews: *off*" in wait_for_response(team, shown)["text"]
    _, on = team.slash("settings previews on")
    assert "previews are now *on*" in wait_for_response(team, on)["text"]
    send_event(team, message_event("OPS-1 loudly"))
    wait_for_posts(team, 1)


def test_settings_are_for_channel_members_and_need_good_arguments(team: RunningConnect) -> None:
    team.slack.slack.add_user("U0DAVE", "dave", real_name="Dave Doe", email="dave@example.org")
    _, outsider = team.slash("settings notify important", user="U0DAVE")
    assert "Only members of this channel" in wait_for_response(team, outsider)["text"]
    _, bad = team.slash("settings previews maybe")
    assert "Usage: `/jira settings" in wait_for_response(team, bad)["text"]
    _, notify = team.slash("settings notify important")
    assert "only *important* changes" in wait_for_response(team, notify)["text"]
    _, shown = team.slash("settings")
    assert "important changes only" in wait_for_response(team, shown)["text"]


def test_a_private_channel_preview_stays_in_that_channel(team: RunningConnect) -> None:
    send_event(team, message_event("OPS-1 secret", channel="G0SECRET", channel_type="group"))
    (preview,) = wait_for_posts(team, 1, channel="G0SECRET")
    assert preview["channel"] == "G0SECRET"
    assert [c.params["channel"] for c in team.slack.calls_to("chat.postMessage")] == ["G0SECRET"]


# -- unfurls ----------------------------------------------------------------------------------


def link_shared(connect: RunningConnect, *urls: str, channel: str = "C0GENERAL") -> dict:
    return {
        "type": "link_shared",
        "channel": channel,
        "is_bot_user_member": True,
        "user": "U0ALICE",
        "message_ts": next_ts(),
        "unfurl_id": "C0GENERAL.1700000000.000100.abc",
        "source": "conversations_history",
        "event_ts": next_ts(),
        "links": [{"domain": "127.0.0.1", "url": url} for url in urls],
    }


def test_a_jira_url_is_unfurled_with_its_summary(team: RunningConnect) -> None:
    url = f"{team.jira.url}/browse/OPS-1"
    send_event(team, link_shared(team, url, "https://example.com/browse/OPS-2"))
    call = team.slack.wait_for("chat.unfurl")
    unfurls = call.params["unfurls"]
    assert list(unfurls) == [url]
    assert "Nightly database backup fails on replica" in json.dumps(unfurls[url]["blocks"])
    assert "card_assign_me" in json.dumps(unfurls[url]["blocks"])


def test_a_jira_url_in_a_message_being_written_is_unfurled_by_its_unfurl_id(
    team: RunningConnect,
) -> None:
    url = f"{team.jira.url}/browse/OPS-1"
    event = link_shared(team, url, channel="COMPOSER")
    send_event(team, {**event, "source": "composer", "unfurl_id": "draft.1700000000.abc"})
    call = team.slack.wait_for("chat.unfurl")
    assert call.params["unfurl_id"] == "draft.1700000000.abc"
    assert call.params["source"] == "composer" and "channel" not in call.params
    assert "Nightly database backup fails on replica" in json.dumps(call.params["unfurls"][url])


def test_a_message_with_a_jira_url_is_unfurled_not_previewed(team: RunningConnect) -> None:
    url = f"{team.jira.url}/browse/OPS-1"
    send_event(team, message_event(f"look at <{url}|OPS-1> and <{url}>"))
    settle(team)
    assert posts(team) == []


def test_restricted_issues_are_never_unfurled_or_previewed(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    with running_with(fake_slack, fake_jira, tmp_path / "c.db", jira_projects=("OPS",)) as connect:
        send_event(connect, message_event("WEB-1 and OPS-2"))
        (preview,) = wait_for_posts(connect, 1)
        assert "OPS-2" in json.dumps(preview["blocks"])
        assert "WEB-1" not in json.dumps(preview)
        send_event(connect, message_event("only WEB-1 here"))
        send_event(connect, link_shared(connect, f"{fake_jira.url}/browse/WEB-1"))
        settle(connect)
        assert len(posts(connect)) == 1
        assert fake_slack.calls_to("chat.unfurl") == []
        assert not any("WEB-1" in request.path for request in fake_jira.requests)


def test_jira_down_gives_no_preview_and_a_later_mention_tries_again(team: RunningConnect) -> None:
    team.jira.fail_next(503, times=50, path="/issue/OPS-1")
    ts = next_ts()
    send_event(team, message_event("OPS-1 while Jira is down", ts=ts))
    wait_until(lambda: any("/issue/OPS-1" in r.path for r in team.jira.requests))
    wait_until(lambda: preview_claims(team) == 0, timeout=20)  # claimed, then given back
    assert posts(team) == []
    team.jira.reset()
    send_event(team, message_event("OPS-1 again", thread_ts=ts))
    (preview,) = wait_for_posts(team, 1)
    assert preview["thread_ts"] == ts
