"""The issue as Connect knows it per workspace (`KnownIssue`): last fields, announced state."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from clients.jira_client import JiraIssue, JiraUser
from models import KnownIssue, utcnow
from services.jira_changes.detector import baseline
from services.jira_changes.events import IssueSnapshot, snapshot_of


def known_issue_for(session: Session, team_id: str, issue: IssueSnapshot) -> KnownIssue:
    known = session.scalars(
        select(KnownIssue)
        .where(KnownIssue.team_id == team_id, KnownIssue.issue_id == issue.id)
        .with_for_update()
    ).first()
    if known is None:
        known = KnownIssue(
            team_id=team_id, issue_id=issue.id, issue_key=issue.key, project_key=issue.project_key
        )
        session.add(known)
    return known


def refresh_known_issue(known: KnownIssue, issue: IssueSnapshot) -> None:
    known.issue_key = issue.key or known.issue_key
    known.project_key = issue.project_key or known.project_key
    known.summary = issue.summary or known.summary or ""
    known.status = issue.status or known.status
    known.priority = issue.priority or known.priority
    known.resolution = issue.resolution or known.resolution
    if issue.assignee is not None:
        known.assignee_account_id = issue.assignee.account_id
        known.assignee_name = issue.assignee.display_name
    if issue.reporter is not None:
        known.reporter_account_id = issue.reporter.account_id
    known.jira_updated_at = issue.updated or known.jira_updated_at
    if issue.security_known:
        known.security_level = issue.security
    known.fetched_at = utcnow()


def with_security(issue: IssueSnapshot, known: KnownIssue) -> IssueSnapshot:
    """The snapshot with the issue's security level and reporter, from the known issue when
    the delivery did not carry them (comment events)."""
    if not issue.key and known.issue_key:  # Data Center comment events name it by id only
        issue = replace(issue, key=known.issue_key)
    if issue.reporter is None and known.reporter_account_id:
        reporter = known.reporter_account_id
        issue = replace(issue, reporter=JiraUser(reporter, reporter))
    if issue.security_known:
        return issue
    return replace(issue, security=known.security_level, security_known=True)


def seed_known_issue(session: Session, team_id: str, issue: JiraIssue) -> KnownIssue:
    """When an issue is first linked: what it looks like now is what is already known."""
    snapshot = snapshot_of(issue)
    known = known_issue_for(session, team_id, snapshot)
    if not known.announced:
        known.announced = baseline(snapshot)
    refresh_known_issue(known, snapshot)
    return known
