"""Reading and changing issues on behalf of Slack users, within JIRA_PROJECTS."""

from __future__ import annotations

import re
from dataclasses import dataclass

from clients.jira_client import (
    JiraBadRequest,
    JiraClient,
    JiraComment,
    JiraIssue,
    JiraUser,
    Transition,
)
from services.errors import InvalidRequest, IssueNotFound, jira_errors
from services.issue_keys import parse_issue_key, project_of
from services.markup import escape_mrkdwn, escape_typed
from services.policy import ConnectPolicy

SEARCH_LIMIT = 10
# `field op value` or `ORDER BY`: text that looks like JQL is tried as JQL first.
_JQL_SHAPE = re.compile(
    r"(\b[\w.\"']+\s*(=|!=|~|!~|>=|<=|>|<)\s*\S)|(\b[\w.]+\s+(not\s+)?in\s*\()|"
    r"(\bis\s+(not\s+)?(empty|null)\b)|(\border\s+by\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SearchResult:
    issues: tuple[JiraIssue, ...]
    jql: str
    as_jql: bool


@dataclass(frozen=True, slots=True)
class TransitionResult:
    before: JiraIssue
    after: JiraIssue
    transition: Transition


class IssueService:
    def __init__(self, jira: JiraClient, policy: ConnectPolicy) -> None:
        self.jira = jira
        self.policy = policy

    def get(self, key_text: str) -> JiraIssue:
        """The issue, or IssueNotFound when it is missing or outside JIRA_PROJECTS."""
        key = parse_issue_key(key_text)
        if key is None:
            raise InvalidRequest(
                f"`{escape_typed(key_text[:40])}` is not an issue key (like `OPS-12`)."
            )
        if not self.policy.project_allowed(project_of(key)):
            raise IssueNotFound(key)
        with jira_errors(key):
            issue = self.jira.get_issue(key)
        # A moved issue answers under its new key, possibly in a project Connect may not show.
        if not self.policy.project_allowed(issue.project_key):
            raise IssueNotFound(key)
        return issue

    def search(self, query: str, *, limit: int = SEARCH_LIMIT) -> SearchResult:
        query = query.strip()
        if not query:
            raise InvalidRequest("Tell me what to search for.")
        if _JQL_SHAPE.search(query):
            try:
                return self._search(query, as_jql=True, limit=limit)
            except JiraBadRequest:
                pass  # not JQL after all (or bad JQL): search the words instead
        escaped = query.replace("\\", "\\\\").replace('"', '\\"')
        try:
            return self._search(f'text ~ "{escaped}"', as_jql=False, limit=limit)
        except JiraBadRequest as exc:
            raise InvalidRequest(
                f"Jira could not search for that: {escape_mrkdwn(exc.message)}"
            ) from None

    def _search(self, jql: str, *, as_jql: bool, limit: int) -> SearchResult:
        scoped = self._scoped(jql)
        with jira_errors():
            page = self.jira.search(scoped, max_results=limit)
        allowed = tuple(i for i in page.issues if self.policy.project_allowed(i.project_key))
        return SearchResult(allowed[:limit], scoped, as_jql)

    def _scoped(self, jql: str) -> str:
        if not self.policy.allowed_projects:
            return jql
        where, order = _split_order_by(jql)
        projects = ", ".join(sorted(self.policy.allowed_projects))
        return f"project in ({projects}) AND ({where}){order}"

    def transition(self, key_text: str, target: str) -> TransitionResult:
        """Move by transition name or target status, case-insensitive."""
        before = self.get(key_text)
        with jira_errors(before.key):
            options = self.jira.transitions(before.key)
        wanted = " ".join(target.split()).casefold()
        match = next((t for t in options if t.name.casefold() == wanted), None) or next(
            (t for t in options if t.to_status.casefold() == wanted), None
        )
        if match is None and before.status.casefold() == wanted:
            raise InvalidRequest(f"*{before.key}* is already {escape_mrkdwn(before.status)}.")
        if match is None:
            choices = ", ".join(sorted({t.to_status for t in options})) or "none right now"
            raise InvalidRequest(
                f"*{before.key}* can't move to “{escape_typed(target[:100])}” from "
                f"{escape_mrkdwn(before.status)}. It can move to: {escape_mrkdwn(choices)}."
            )
        with jira_errors(before.key):
            self.jira.transition_issue(before.key, match.id)
            after = self.jira.get_issue(before.key)
        return TransitionResult(before, after, match)

    def assign(self, key_text: str, assignee: JiraUser | None) -> JiraIssue:
        issue = self.get(key_text)
        with jira_errors(issue.key):
            self.jira.assign_issue(issue.key, assignee.account_id if assignee else None)
            return self.jira.get_issue(issue.key)

    def comment(self, key_text: str, body: str) -> tuple[JiraIssue, JiraComment]:
        if not body.strip():
            raise InvalidRequest("The comment is empty.")
        issue = self.get(key_text)
        with jira_errors(issue.key):
            return issue, self.jira.add_comment(issue.key, body)


def _split_order_by(jql: str) -> tuple[str, str]:
    match = re.search(r"\border\s+by\b", jql, re.IGNORECASE)
    if match is None:
        return jql, ""
    return jql[: match.start()].strip(), " " + jql[match.start() :].strip()
