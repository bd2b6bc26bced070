"""The cached issue per workspace (`JiraTicket`): its last known fields and announced state."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from clients.jira_client import JiraIssue, JiraUser
from models import JiraTicket, utcnow
from services.jira_changes.detector import baseline
from services.jira_changes.events import IssueSnapshot, snapshot_of


def ticket_for(session: Session, team_id: str, issue: IssueSnapshot) -> JiraTicket:
    ticket = session.scalars(
        select(JiraTicket)
        .where(JiraTicket.team_id == team_id, JiraTicket.issue_id == issue.id)
        .with_for_update()
    ).first()
    if ticket is None:
        ticket = JiraTicket(
            team_id=team_id, issue_id=issue.id, issue_key=issue.key, project_key=issue.project_key
        )
        session.add(ticket)
    return ticket


def refresh_ticket(ticket: JiraTicket, issue: IssueSnapshot) -> None:
    ticket.issue_key = issue.key or ticket.issue_key
    ticket.project_key = issue.project_key or ticket.project_key
    ticket.summary = issue.summary or ticket.summary or ""
    ticket.status = issue.status or ticket.status
    ticket.priority = issue.priority or ticket.priority
    ticket.resolution = issue.resolution or ticket.resolution
    if issue.assignee is not None:
        ticket.assignee_account_id = issue.assignee.account_id
        ticket.assignee_name = issue.assignee.display_name
    if issue.reporter is not None:
        ticket.reporter_account_id = issue.reporter.account_id
    ticket.jira_updated_at = issue.updated or ticket.jira_updated_at
    if issue.security_known:
        ticket.security_level = issue.security
    ticket.fetched_at = utcnow()


def with_security(issue: IssueSnapshot, ticket: JiraTicket) -> IssueSnapshot:
    """The snapshot with the issue's security level and reporter, from the ticket when the
    delivery did not carry them (comment events)."""
    if not issue.key and ticket.issue_key:  # Data Center comment events name it by id only
        issue = replace(issue, key=ticket.issue_key)
    if issue.reporter is None and ticket.reporter_account_id:
        reporter = ticket.reporter_account_id
        issue = replace(issue, reporter=JiraUser(reporter, reporter))
    if issue.security_known:
        return issue
    return replace(issue, security=ticket.security_level, security_known=True)


def seed_ticket(session: Session, team_id: str, issue: JiraIssue) -> JiraTicket:
    """When an issue is first linked: what it looks like now is what is already known."""
    snapshot = snapshot_of(issue)
    ticket = ticket_for(session, team_id, snapshot)
    if not ticket.announced:
        ticket.announced = baseline(snapshot)
    refresh_ticket(ticket, snapshot)
    return ticket
