"""JIRA_AUTH_MODE=user meets synced threads and personal DMs (SPEC §12, §13, §7/§11): a synced
reply is written to Jira by its author's own account, uncredited; someone not connected is
told, not written for; a DM reaches a person only about what their own token can read."""

from __future__ import annotations

from typing import Any

from simulators.jira_site.webhooks import JiraWebhookEmitter
from tests.e2e.conftest import wait_settled
from tests.e2e.identity_site import IdentitySite, atlassian, site
from tests.e2e.test_thread_sync import comment_of, comments, reply
from tests.waiting import wait_until

__all__ = ["atlassian", "site"]  # the fixtures

CAROL_DM = "D0CAROL"


def synced_thread(site: IdentitySite, key: str = "OPS-1", user: str = "U0ALICE") -> str:
    answer = site.ask(f"link {key} --sync", user=user)
    assert "synced thread" in answer["text"], answer
    card = next(m for m in site.connect.slack.slack.top_level("C0GENERAL") if key in m.text)
    return card.ts


def test_a_synced_reply_is_written_by_its_authors_own_account(site: IdentitySite) -> None:
    site.sign_in("U0ALICE")
    site.sign_in("U0BOB")
    thread = synced_thread(site)
    event = reply(site.connect, thread, "Rolled back, *all green* now", user="U0BOB")
    comment = comment_of(site.connect, event)
    assert comment.author is not None and comment.author.account_id == "acc-bob"
    assert "all green" in comment.body
    assert "(via Slack)" not in comment.body  # Jira shows who wrote it: no credit line
    assert "/archives/C0GENERAL/p" in comment.body  # the reply's permalink still ends it


def test_a_reply_by_someone_not_connected_is_told_to_them_not_written(
    site: IdentitySite,
) -> None:
    site.sign_in("U0ALICE")
    thread = synced_thread(site)
    reply(site.connect, thread, "I can't write to Jira yet", user="U0CAROL")
    note = site.connect.slack.wait_for(
        "chat.postEphemeral", lambda c: c.params.get("user") == "U0CAROL"
    )
    assert "Connect your Jira account" in note.params["text"]
    assert "/jira connect" in note.params["text"]
    wait_settled(site.connect)
    assert comments(site.connect) == []


def carol_dms(site: IdentitySite) -> list[Any]:
    """Connect's DMs to Carol about Jira changes (not the "Connected as" one of signing in)."""
    return [
        m
        for m in site.connect.slack.slack.messages.get(CAROL_DM, [])
        if m.user != "U0CAROL" and "Connected as" not in m.text
    ]


def test_a_dm_tells_a_person_only_of_issues_their_own_token_can_read(
    site: IdentitySite,
) -> None:
    site.sign_in("U0CAROL")
    site.jira.update_issue("OPS-3", security="Staff only")
    site.jira.restrict_security_level("Staff only", {"acc-bob"})  # Carol may not read OPS-3
    emitter = JiraWebhookEmitter(site.jira, site.connect.jira_webhook, cloud=True).start()
    try:
        with site.jira.act_as("bob@example.com"):
            site.jira.assign_issue("OPS-3", "acc-carol")
        emitter.flush()
        wait_settled(site.connect)
        assert carol_dms(site) == []  # assigned an issue she cannot read: not told

        with site.jira.act_as("alice@example.com"):
            site.jira.assign_issue("OPS-1", "acc-carol")
        emitter.flush()
        (dm,) = wait_until(lambda: carol_dms(site), what="Carol's DM about OPS-1")
        assert "OPS-1" in dm.text and "OPS-3" not in dm.text
    finally:
        emitter.stop()


def test_no_dm_to_a_person_whose_grant_is_gone(site: IdentitySite) -> None:
    site.sign_in("U0CAROL")
    assert "deleted your Jira tokens" in site.ask("disconnect", user="U0CAROL")["text"]
    emitter = JiraWebhookEmitter(site.jira, site.connect.jira_webhook, cloud=True).start()
    try:
        with site.jira.act_as("alice@example.com"):
            site.jira.assign_issue("OPS-1", "acc-carol")
        emitter.flush()
        wait_settled(site.connect)
        assert carol_dms(site) == []
    finally:
        emitter.stop()
