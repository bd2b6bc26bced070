"""The in-memory Jira's per-person permissions (what the OAuth gateway's tests rely on): a
restricted project or security level is, to anyone else acting, as if it did not exist."""

from __future__ import annotations

import pytest

from clients.jira_client import JiraFieldErrors, JiraNotFound
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data


@pytest.fixture
def jira() -> InMemoryJira:
    site = with_sample_data(InMemoryJira())
    site.restrict_project("WEB", {"acc-bob"})
    site.update_issue("OPS-3", security="Staff only")
    site.restrict_security_level("Staff only", {"acc-bob"})
    return site


def test_someone_without_the_permission_finds_nothing(jira: InMemoryJira) -> None:
    with jira.act_as("acc-alice"):
        for key in ("WEB-1", "OPS-3"):
            with pytest.raises(JiraNotFound):
                jira.get_issue(key)
            with pytest.raises(JiraNotFound):
                jira.add_comment(key, "hello")
        assert [i.key for i in jira.search("project = OPS ORDER BY key ASC").issues] == [
            "OPS-1",
            "OPS-2",
        ]
        assert [p.key for p in jira.projects()] == ["OPS"]
        with pytest.raises(JiraFieldErrors, match="permission"):
            jira.create_issue(
                {"project": {"key": "WEB"}, "issuetype": {"name": "Task"}, "summary": "x"}
            )
        assert jira.myself().account_id == "acc-alice"


def test_the_readers_and_connects_own_account_see_everything(jira: InMemoryJira) -> None:
    with jira.act_as("acc-bob"):
        assert jira.get_issue("WEB-1").key == "WEB-1"
        assert jira.get_issue("OPS-3").security == "Staff only"
    assert jira.get_issue("WEB-1").key == "WEB-1"  # Connect's own account
    assert len(jira.search("project in (OPS, WEB)").issues) == 4
