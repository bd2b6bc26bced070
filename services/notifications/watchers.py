"""Who watches an issue, asked of Jira (`/issue/{key}/watchers`) at most once a minute per
issue: a burst of changes to one issue, or many workspaces told of the same change, cost one
call, not one per event. Asked only when someone in the workspace chose `watching`."""

from __future__ import annotations

import logging
import threading

from cachetools import TTLCache

from clients.jira_client import JiraClient, JiraError, JiraNotFound

log = logging.getLogger(__name__)

WATCHERS_TTL = 60.0  # seconds a watcher list is used before Jira is asked again
MAX_ISSUES = 10_000


class IssueWatchers:
    """Account ids watching each issue, cached; thread-safe, one Jira call per issue at a time."""

    def __init__(
        self, jira: JiraClient, *, ttl: float = WATCHERS_TTL, maxsize: int = MAX_ISSUES
    ) -> None:
        self._jira = jira
        self._cache: TTLCache[str, frozenset[str]] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()
        self._asking: dict[str, threading.Lock] = {}

    def of(self, issue_key: str) -> frozenset[str]:
        """Who watches the issue; empty when Jira cannot say (logged: only watchers' DMs wait
        on it, never the channels' news)."""
        key = issue_key.upper()
        with self._lock:
            known = self._cache.get(key)
            if known is not None:
                return known
            asking = self._asking.setdefault(key, threading.Lock())
        with asking:  # concurrent deliveries about one issue make one call
            with self._lock:
                known = self._cache.get(key)
            if known is not None:
                return known
            try:
                found = frozenset(user.account_id for user in self._jira.watchers(key))
            except JiraNotFound:
                found = frozenset()
            except JiraError as exc:
                log.warning("could not ask Jira who watches %s: %s", key, exc.message)
                return frozenset()
            with self._lock:
                self._cache[key] = found
                self._asking.pop(key, None)
            return found
