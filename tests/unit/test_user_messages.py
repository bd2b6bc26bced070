"""What a user is told when Jira fails: down and slow read differently."""

from __future__ import annotations

import pytest

from clients.jira_client import JiraAuthError, JiraTimeout, JiraUnavailable
from services.errors import JiraDown, JiraRefused, jira_errors, user_message_for


def test_a_jira_that_is_down_and_one_that_is_slow_are_told_apart() -> None:
    assert "not reachable" in (user_message_for(JiraUnavailable("refused")) or "")
    assert "did not answer in time" in (user_message_for(JiraTimeout("slow")) or "")
    assert "JIRA_API_TOKEN" in (user_message_for(JiraAuthError("401")) or "")


def test_jira_errors_turns_client_failures_into_user_messages() -> None:
    with pytest.raises(JiraDown, match="did not answer in time"), jira_errors("OPS-1"):
        raise JiraTimeout("Jira did not answer in time.")
    with pytest.raises(JiraDown, match="not reachable"), jira_errors("OPS-1"):
        raise JiraUnavailable("Jira could not be reached.")
    with pytest.raises(JiraRefused), jira_errors():
        raise JiraAuthError("403")
