"""JIRA_AUTH_MODE=user, acting (SPEC §12): once connected, what a person does from Slack is
done in Jira by their own account (through the fake Atlassian gateway), and what they are
shown is what their Jira permissions let them read."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.e2e.identity_site import IdentitySite, atlassian, button_url, site
from tests.e2e.slack_events import (
    block_action,
    card_button,
    message_event,
    next_ts,
    send_event,
    settle,
)
from tests.e2e.test_app_home_and_mentions import home_opened, published_home
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_create_issue import (
    form_values,
    is_form,
    option_value,
    shortcut_payload,
    submission,
    wait_for_view,
)
from tests.e2e.test_message_shortcuts import suggestion
from tests.waiting import wait_until

__all__ = ["atlassian", "site"]  # the fixtures


def gateway_accounts(site: IdentitySite) -> set[str | None]:
    return {call.account_id for call in site.atlassian.gateway_calls}


def test_a_comment_is_the_persons_own_in_jira(site: IdentitySite) -> None:
    site.sign_in("U0ALICE")
    answer = site.ask("comment OPS-1 Rebooted the replica.")
    assert "Added your comment" in answer["text"]
    comment = site.jira.comments("OPS-1")[-1]
    assert comment.author is not None and comment.author.account_id == "acc-alice"
    assert comment.body == "Rebooted the replica."  # no "via Slack" credit: Jira names her
    assert gateway_accounts(site) == {"acc-alice"}


def test_assign_and_transition_are_recorded_as_the_person(site: IdentitySite) -> None:
    site.sign_in("U0ALICE")
    assert "Assigned *OPS-2* to Alice Adams" in site.ask("assign OPS-2 me")["text"]
    assert "Moved *OPS-2*" in site.ask("transition OPS-2 In Progress")["text"]
    issue = site.jira.get_issue("OPS-2")
    assert issue.assignee is not None and issue.assignee.account_id == "acc-alice"
    assert issue.status == "In Progress"
    actors = {entry.author.account_id for entry in site.jira.history("OPS-2") if entry.author}
    assert actors == {"acc-alice"}


def test_hidden_issues_are_not_found_like_those_outside_the_wall(site: IdentitySite) -> None:
    site.jira.restrict_project("WEB", {"acc-bob"})
    site.jira.update_issue("OPS-3", security="Staff only")
    site.jira.restrict_security_level("Staff only", {"acc-bob"})
    site.sign_in("U0ALICE")
    site.sign_in("U0BOB")

    missing = site.ask("show OPS-999")["text"]
    assert missing == "I can't find *OPS-999*: it does not exist, or Connect may not show it."
    for key in ("WEB-1", "OPS-3"):
        assert site.ask(f"show {key}")["text"] == missing.replace("OPS-999", key)
        assert site.ask(f"comment {key} sneaky")["text"] == missing.replace("OPS-999", key)
    found = json.dumps(site.ask("search project = OPS ORDER BY key ASC"))
    assert "OPS-1" in found and "OPS-2" in found and "OPS-3" not in found
    assert "Staff only" not in found

    # Bob's account may read both.
    assert "WEB-1" in site.ask("show WEB-1", user="U0BOB")["text"]
    assert "OPS-3" in site.ask("show OPS-3", user="U0BOB")["text"]


def test_acting_before_connecting_offers_the_button_then_run_it_now(site: IdentitySite) -> None:
    answer = site.ask("comment OPS-1 Looks fixed to me", user="U0BOB")
    assert answer["response_type"] == "ephemeral"
    assert "Connect your Jira account first" in answer["text"]
    assert site.jira.comments("OPS-1") == []

    page = site.follow_button(answer, "acc-bob")
    assert "Connected as Bob Baker" in page.text
    dm = wait_until(
        lambda: [
            m
            for m in site.connect.slack.slack.messages.get("D0BOB", [])
            if "Run it now" in json.dumps(m.blocks)
        ],
        what="the DM offering to run the command",
    )[-1]
    button = card_button(dm.blocks, "jira_run_pending")
    response_url = site.connect.slack.response_url()
    message = {"ts": dm.ts, "blocks": dm.blocks, "text": dm.text}
    payload = block_action(button, user="U0BOB", message=message, response_url=response_url)
    payload["channel"] = {"id": "D0BOB", "name": "directmessage"}
    assert site.connect.interact(payload).status_code == 200
    assert "Added your comment" in wait_for_response(site.connect, response_url)["text"]
    comment = site.jira.comments("OPS-1")[-1]
    assert comment.body == "Looks fixed to me"
    assert comment.author is not None and comment.author.account_id == "acc-bob"


def test_run_it_now_with_a_command_that_no_longer_parses_says_so(site: IdentitySite) -> None:
    pending = json.dumps({"text": "frobnicate OPS-1", "channel_id": "C0GENERAL"})
    button = {"type": "button", "action_id": "jira_run_pending", "value": pending}
    response_url = site.connect.slack.response_url()
    payload = block_action(button, user="U0BOB", channel="D0BOB", response_url=response_url)
    assert site.connect.interact(payload).status_code == 200
    told = wait_for_response(site.connect, response_url)
    assert told["response_type"] == "ephemeral"
    assert told["replace_original"] is False  # the DM with the button stays
    assert "frobnicate" in told["text"]


def test_assign_to_me_on_a_card_runs_as_the_clicker(site: IdentitySite) -> None:
    site.sign_in("U0CAROL")
    ts = next_ts()
    send_event(site.connect, message_event("who takes OPS-2?", ts=ts, user="U0CAROL"))
    stored = wait_until(
        lambda: [
            m for m in site.connect.slack.slack.thread("C0GENERAL", ts) if m.user == "UCONNECTBOT"
        ],
        what="the preview",
    )[-1]
    message: dict[str, Any] = {"ts": stored.ts, "thread_ts": ts, "blocks": stored.blocks}
    button = card_button(message["blocks"], "card_assign_me")

    # Alice is not connected: she is offered the button, and nothing changes in Jira.
    response_url = site.connect.slack.response_url()
    payload = block_action(button, user="U0ALICE", message=message, response_url=response_url)
    site.connect.interact(payload)
    refused = wait_for_response(site.connect, response_url)
    assert "Connect your Jira account first" in refused["text"]
    button_url(refused)
    assert site.jira.get_issue("OPS-2").assignee is None

    response_url = site.connect.slack.response_url()
    payload = block_action(button, user="U0CAROL", message=message, response_url=response_url)
    site.connect.interact(payload)
    site.connect.slack.wait_for("chat.update")
    issue = site.jira.get_issue("OPS-2")
    assert issue.assignee is not None and issue.assignee.account_id == "acc-carol"
    assert {e.author.account_id for e in site.jira.history("OPS-2") if e.author} == {"acc-carol"}


def test_a_preview_is_posted_only_when_the_poster_may_see_the_issue(site: IdentitySite) -> None:
    site.jira.restrict_project("WEB", {"acc-bob"})
    site.sign_in("U0ALICE")

    def bot_replies(ts: str) -> list[Any]:
        return [
            m for m in site.connect.slack.slack.thread("C0GENERAL", ts) if m.user == "UCONNECTBOT"
        ]

    hidden = next_ts()
    send_event(site.connect, message_event("see WEB-1", ts=hidden, user="U0ALICE"))
    shown = next_ts()
    send_event(site.connect, message_event("see OPS-1", ts=shown, user="U0ALICE"))
    wait_until(lambda: bot_replies(shown), what="the preview of OPS-1")
    settle(site.connect)
    assert bot_replies(hidden) == []

    # Carol is not connected: no preview, and a hint (to her alone) to connect.
    quiet = next_ts()
    send_event(site.connect, message_event("see OPS-2", ts=quiet, user="U0CAROL"))
    hint = site.connect.slack.wait_for(
        "chat.postEphemeral", lambda c: c.params["user"] == "U0CAROL"
    )
    assert "Connect your Jira account" in hint.params["text"]
    settle(site.connect)
    assert bot_replies(quiet) == []


def test_the_create_form_and_the_issue_are_the_persons(site: IdentitySite) -> None:
    site.jira.restrict_project("WEB", {"acc-bob"})
    site.sign_in("U0ALICE")
    site.connect.interact(shortcut_payload("create_issue", "trig-person"))
    form = wait_for_view(site.connect, is_form)
    projects = next(b for b in form["blocks"] if b.get("block_id") == "project")
    assert [o["value"] for o in projects["element"]["options"]] == ["OPS"]  # not WEB
    task = option_value(form, "issue_type", "Task")
    answer = site.connect.interact(submission(form, form_values("OPS", task, "Badge reader down")))
    assert answer.json()["response_action"] == "update"
    wait_for_view(site.connect, lambda v: "Created" in str(v["blocks"]) and v["id"] == form["id"])
    issue = next(
        i for i in site.jira.search_all("project = OPS") if i.summary == "Badge reader down"
    )
    assert issue.reporter is not None and issue.reporter.account_id == "acc-alice"
    assert "via Slack" not in (issue.description or "")


def test_a_create_form_opened_before_connecting_completes_after(site: IdentitySite) -> None:
    site.connect.interact(shortcut_payload("create_issue", "trig-later"))
    form = wait_for_view(site.connect, is_form)
    note = json.dumps(form["blocks"])
    assert "Connect your Jira account first" in note
    link = re.search(r"<(https://connect\.example\.test/jira/oauth/start\?state=[^|>]+)\|", note)
    assert link is not None
    # She connects in the browser, then presses Create on the form she kept open.
    browser = site.atlassian.browser("acc-alice")
    start = browser.get(site.local(link.group(1)), allow_redirects=False, timeout=10)
    back = browser.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert "Connected as Alice Adams" in browser.get(site.local(back.headers["Location"])).text
    task = option_value(form, "issue_type", "Task")
    site.connect.interact(submission(form, form_values("OPS", task, "Kept while connecting")))
    wait_for_view(site.connect, lambda v: "Created" in str(v["blocks"]) and v["id"] == form["id"])
    issue = next(
        i for i in site.jira.search_all("project = OPS") if i.summary == "Kept while connecting"
    )
    assert issue.reporter is not None and issue.reporter.account_id == "acc-alice"


def test_an_unfurl_only_for_what_the_poster_may_see(site: IdentitySite) -> None:
    site.jira.restrict_project("WEB", {"acc-bob"})
    site.sign_in("U0ALICE")
    base = site.connect.jira.url
    links = [{"url": f"{base}/browse/WEB-1", "domain": "127.0.0.1"}]
    links.append({"url": f"{base}/browse/OPS-1", "domain": "127.0.0.1"})
    event = {
        "type": "link_shared",
        "channel": "C0GENERAL",
        "user": "U0ALICE",
        "message_ts": next_ts(),
        "links": links,
    }
    send_event(site.connect, event)
    unfurl = site.connect.slack.wait_for("chat.unfurl")
    unfurls = unfurl.params["unfurls"]
    unfurls = json.loads(unfurls) if isinstance(unfurls, str) else unfurls
    assert list(unfurls) == [f"{base}/browse/OPS-1"]


def test_pickers_app_home_and_links_go_through_the_persons_account(site: IdentitySite) -> None:
    site.jira.update_issue("OPS-1", security="Staff only")
    site.jira.restrict_security_level("Staff only", {"acc-bob"})
    site.jira.update_issue("WEB-1", assignee=site.jira.user("acc-alice"))
    site.jira.restrict_project("WEB", {"acc-bob"})

    # Not connected: App Home offers the connect button, and lists nothing.
    send_event(site.connect, home_opened("U0ALICE"))
    home = published_home(site.connect, "U0ALICE")
    assert "jira_connect_open" in home and "/jira/oauth/start?state=" in home

    site.sign_in("U0ALICE")
    site.jira.update_issue("OPS-2", assignee=site.jira.user("acc-alice"))
    send_event(site.connect, home_opened("U0ALICE"))
    home = published_home(site.connect, "U0ALICE", count=2)
    assert "OPS-2" in home and "WEB-1" not in home  # assigned to her, but not hers to see

    offered = [o["value"] for o in picker_options(site, "OPS-1")]
    assert offered == []  # the issue picker does not offer what she may not see
    assert [o["value"] for o in picker_options(site, "OPS-2")] == ["OPS-2"]

    assert "Linked this channel to *OPS-2*" in site.ask("link OPS-2")["text"]
    assert "I can't find *OPS-1*" in site.ask("link OPS-1")["text"]  # hidden: not linked
    read = [c for c in site.atlassian.gateway_calls if c.path.endswith("/issue/OPS-1")]
    assert read and {c.account_id for c in read} == {"acc-alice"}


def picker_options(site: IdentitySite, value: str) -> list[dict[str, Any]]:
    response = site.connect.interact(suggestion(value))
    assert response.status_code == 200
    return list(response.json()["options"])


def test_an_email_link_left_from_bot_mode_connects_nobody(site: IdentitySite) -> None:
    from models import UserLink

    with site.connect.runtime.services.uow() as work:  # mapped by e-mail while in `bot` mode
        work.session.add(
            UserLink(
                team_id="T0TEAM",
                slack_user_id="U0BOB",
                jira_account_id="acc-bob",
                jira_display_name="Bob Baker",
                email="bob@example.com",
            )
        )
        work.commit()
    site.sign_in("U0ALICE")
    answer = site.ask("assign OPS-2 <@U0BOB>")["text"]
    assert "<@U0BOB> has not connected a Jira account yet" in answer
    assert site.jira.get_issue("OPS-2").assignee is None
    assert "Connect your Jira account first" in site.ask("show OPS-1", user="U0BOB")["text"]
