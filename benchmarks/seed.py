"""Database rows as Connect's own actions leave them, written in bulk for large benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clients.jira_client import JiraIssue
from models import JiraSlackLink, KnownIssue
from services.jira_changes.detector import baseline
from services.jira_changes.events import snapshot_of
from services.jira_changes.known_issues import refresh_known_issue
from services.unit_of_work import UnitOfWorkFactory


def link_issues(
    uow: UnitOfWorkFactory,
    team_id: str,
    issues: Sequence[JiraIssue],
    channel_of: Callable[[int], str],
) -> None:
    """A channel link per issue, with the known whose announced state linking seeds."""
    with uow() as work:
        for i, issue in enumerate(issues):
            snapshot = snapshot_of(issue)
            known = KnownIssue(
                team_id=team_id,
                issue_id=issue.id,
                issue_key=issue.key,
                project_key=issue.project_key,
                announced=dict(baseline(snapshot)),
            )
            refresh_known_issue(known, snapshot)
            work.session.add(known)
            work.session.add(
                JiraSlackLink(
                    team_id=team_id,
                    issue_id=issue.id,
                    issue_key=issue.key,
                    channel_id=channel_of(i),
                    message_ts="",
                    created_by="U0ALICE",
                )
            )
        work.commit()
