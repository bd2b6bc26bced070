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
from services.issues.keys import parse_issue_key, project_of
from services.jql import (
    MAX_JQL_LENGTH,
    Clause,
    JqlQuery,
    JqlSyntaxError,
    JqlWall,
    Value,
    parse_jql,
)
from services.markup import escape_mrkdwn, escape_typed
from services.policy import ConnectPolicy

SEARCH_LIMIT = 10
# `field op value`, `IN (`, `IS EMPTY` or `ORDER BY`: text that looks like JQL is parsed as JQL.
# No pattern starts with a repetition, so a search over the text stays linear.
_JQL_SHAPE = re.compile(
    r"([\w.\"'\]]\s*(?:!=|!~|>=|<=|=|~|>|<)\s*\S)|(\bin\s*(?:\w+\s*)?\()|"
    r"(\bis\s+(?:not\s+)?(?:empty|null)\b)|(\border\s+by\b)",
    re.IGNORECASE,
)


def looks_like_jql(text: str) -> bool:
    return _JQL_SHAPE.search(text) is not None


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
        self.wall = JqlWall(policy.allowed_projects)

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
        """Text that looks like JQL is parsed and wrapped in the wall (SPEC §11) or refused;
        other text is a text search, quoted. Either way Jira gets `project in (…) AND (…)`."""
        query = query.strip()
        if not query:
            raise InvalidRequest("Tell me what to search for.")
        if len(query) > MAX_JQL_LENGTH:
            raise InvalidRequest(f"That is too long to search for ({MAX_JQL_LENGTH:,} at most).")
        if looks_like_jql(query):
            parsed = self.parse_jql(query)
            try:
                return self._search(parsed, as_jql=True, limit=limit)
            except JiraBadRequest:
                pass  # JQL to Connect, not to Jira (`Things in (brackets)`): search the words
        words = JqlQuery(Clause(Value("text"), "~", Value(query, quoted=True)))
        try:
            return self._search(words, as_jql=False, limit=limit)
        except JiraBadRequest as exc:
            raise InvalidRequest(
                f"Jira could not search for that: {escape_mrkdwn(exc.message[:300])}"
            ) from None

    def parse_jql(self, text: str) -> JqlQuery:
        """The typed JQL, parsed and held to the wall, or InvalidRequest saying why not."""
        try:
            parsed = parse_jql(text)
        except JqlSyntaxError as exc:
            raise InvalidRequest(
                f"That is not JQL I can pass on to Jira: {escape_mrkdwn(str(exc))}"
            ) from None
        outside = self.wall.names_outside(parsed, self._allowed_project_aliases)
        if outside:
            named = ", ".join(f"“{escape_mrkdwn(name[:40])}”" for name in outside[:5])
            raise InvalidRequest(
                f"Connect looks only inside {', '.join(sorted(self.wall.projects))}: "
                f"your JQL names {named}."
            )
        return parsed

    def _search(self, query: JqlQuery, *, as_jql: bool, limit: int) -> SearchResult:
        scoped = self.wall.wrap(query)
        with jira_errors():
            page = self.jira.search(scoped, max_results=limit)
        allowed = tuple(i for i in page.issues if self.policy.project_allowed(i.project_key))
        return SearchResult(allowed[:limit], scoped, as_jql)

    def _allowed_project_aliases(self) -> frozenset[str]:
        """Names and ids of the allowed projects, for JQL that names one that way."""
        with jira_errors():
            projects = self.jira.projects()
        return frozenset(
            alias.lower()
            for project in projects
            if project.key.upper() in self.wall.projects
            for alias in (project.name, project.id)
        )

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
