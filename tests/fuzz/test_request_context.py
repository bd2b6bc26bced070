"""What a Slack request sets in its context (the workspace it serves, log fields) ends with it:
the thread that served it carries nothing over to its next request."""

from __future__ import annotations

from clients.slack_teams import current_team
from services import log_context
from tests.fuzz.harness import FuzzedConnect


def test_a_slack_request_leaves_nothing_behind_in_the_thread_that_served_it(
    app: FuzzedConnect,
) -> None:
    assert current_team.get() is None
    outcome = app.slash("help")
    outcome.assert_handled()
    assert outcome.status == 200 and "/jira help" in outcome.body
    assert current_team.get() is None
    assert "request_id" not in log_context.current()
