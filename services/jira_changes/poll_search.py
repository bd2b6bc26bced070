"""The poller's questions to Jira: `… AND updated >= -Nm` searches, paged, with comments and
the changelog (who made each change), and
what to do when Jira refuses one because of a single value in it (SPEC §5)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clients.jira_client import JiraBadRequest, JiraClient, JiraIssue
from services.issues.keys import find_issue_keys

MAX_PAGES = 1000  # a page token that never ends must not hold the poller forever
# Creation never changes, so issues updated while the pages are read do not reshuffle them.
_ORDER = " ORDER BY created ASC"
_QUOTED = re.compile(r"'([^']+)'")  # the values Jira names in its messages: 'NOPE'

Rejected = Callable[[str, bool, JiraBadRequest], None]  # (item, named by Jira, Jira's error)


def quoted(values: Sequence[str]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def keys_named(message: str) -> set[str]:
    """ "An issue with key 'OPS-9' does not exist for field 'key'." → {"OPS-9"}"""
    return set(find_issue_keys(message))


def values_named(message: str) -> set[str]:
    """ "The value 'NOPE' does not exist for the field 'project'." → {"NOPE", "PROJECT"}"""
    return {value.strip().upper() for value in _QUOTED.findall(message)}


@dataclass
class UpdatedSearch:
    """Searches for issues updated in the last `minutes`, counting the calls made."""

    jira: JiraClient
    minutes: int
    page_size: int
    searches: int = 0

    def pages(self, where: str) -> list[JiraIssue]:
        """Every page of `where AND updated >= -Nm`; a next page only when Jira says there is."""
        jql = f"{where} AND updated >= -{self.minutes}m{_ORDER}"
        issues: list[JiraIssue] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            self.searches += 1
            page = self.jira.search(
                jql,
                max_results=self.page_size,
                page_token=token,
                with_comments=True,
                with_changelog=True,
            )
            issues.extend(page.issues)
            token = page.next_page_token
            if not token:
                break
        return issues

    def apart(
        self,
        items: list[str],
        where: Callable[[list[str]], str],
        named_in: Callable[[str], set[str]],
        rejected: Rejected,
    ) -> list[JiraIssue]:
        """`pages(where(items))`. When Jira refuses the query (400), the items its message names
        are set apart, or else the items are halved until one is left (Jira may answer in
        another language); `rejected` hears of each one set apart, which may raise, and the
        rest is asked again. A halving costs about 2·log2(len(items)) searches."""
        issues: list[JiraIssue] = []
        pending = [items]
        while pending:
            part = pending.pop()
            try:
                issues.extend(self.pages(where(part)))
                continue
            except JiraBadRequest as exc:
                error = exc
            mentioned = named_in(error.message)
            named = [item for item in part if item in mentioned]
            if not named and len(part) > 1:
                middle = len(part) // 2
                pending.extend([part[middle:], part[:middle]])
                continue
            rest = [item for item in part if item not in named]
            if named and rest:
                pending.append(rest)
            for item in named or part:
                rejected(item, bool(named), error)
        return issues
