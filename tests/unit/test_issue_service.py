from __future__ import annotations

import pytest

from clients.jira_client import JiraUnavailable
from services.errors import InvalidRequest, IssueNotFound, JiraDown
from services.issues.service import IssueService
from services.policy import ConnectPolicy
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data


@pytest.fixture
def jira() -> InMemoryJira:
    return with_sample_data(InMemoryJira())


def test_issues_outside_jira_projects_are_not_found_without_asking_jira(jira: InMemoryJira) -> None:
    service = IssueService(jira, ConnectPolicy(allowed_projects=frozenset({"OPS"})))
    with pytest.raises(IssueNotFound):
        service.get("WEB-1")
    assert not [call for call in jira.calls if call[0] == "get_issue"]
    assert service.get("OPS-1").key == "OPS-1"


def test_a_moved_issue_outside_the_list_is_not_found(jira: InMemoryJira) -> None:
    jira.move_issue("OPS-2", "WEB")
    service = IssueService(jira, ConnectPolicy(allowed_projects=frozenset({"OPS"})))
    with pytest.raises(IssueNotFound):
        service.get("OPS-2")


def test_text_that_looks_like_jql_is_jql_else_words(jira: InMemoryJira) -> None:
    service = IssueService(jira, ConnectPolicy())
    assert service.search("project = WEB").as_jql
    words = service.search("backup replica")
    assert not words.as_jql
    assert [issue.key for issue in words.issues] == ["OPS-1"]
    assert words.jql == 'text ~ "backup replica"'


def test_broken_jql_is_refused_never_sent(jira: InMemoryJira) -> None:
    with pytest.raises(InvalidRequest, match="not JQL I can pass on"):
        IssueService(jira, ConnectPolicy()).search('status = "unterminated')
    assert not [call for call in jira.calls if call[0] == "search"]


def test_search_is_scoped_and_filtered_even_against_jql_injection(jira: InMemoryJira) -> None:
    service = IssueService(jira, ConnectPolicy(allowed_projects=frozenset({"OPS"})))
    with pytest.raises(InvalidRequest, match="no opening one"):
        service.search("status = Done) OR (project = WEB ORDER BY key")
    with pytest.raises(InvalidRequest, match="names “WEB-1”"):
        service.search("key = WEB-1 OR status = Done ORDER BY key")
    result = service.search("status = Done OR priority = High ORDER BY key")
    assert result.jql == "project in (OPS) AND (status = Done OR priority = High) ORDER BY key"
    assert all(issue.project_key == "OPS" for issue in result.issues)


def test_quotes_in_words_are_escaped(jira: InMemoryJira) -> None:
    result = IssueService(jira, ConnectPolicy()).search('say "hi"')
    assert result.jql == 'text ~ "say \\"hi\\""'


def test_jira_outage_is_a_clear_error(jira: InMemoryJira) -> None:
    jira.fail_next(JiraUnavailable("down"), times=5)
    with pytest.raises(JiraDown, match="not reachable"):
        IssueService(jira, ConnectPolicy()).get("OPS-1")


def test_bad_keys_and_empty_searches(jira: InMemoryJira) -> None:
    service = IssueService(jira, ConnectPolicy())
    with pytest.raises(InvalidRequest, match="not an issue key"):
        service.get("hello")
    with pytest.raises(InvalidRequest):
        service.search("   ")
    with pytest.raises(InvalidRequest, match="empty"):
        service.comment("OPS-1", "  ")
