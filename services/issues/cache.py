"""Issues by key for previews and unfurls: a key seen within the TTL costs no Jira call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

import cachetools

from clients.jira_client import JiraIssue
from services.errors import IssueNotFound
from services.issues.service import IssueService

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ISSUE_TTL = 300.0  # seconds


class TTLCache(Generic[K, V]):
    """cachetools' TTLCache behind a lock, with a single-flight `get_or_load`: entries expire
    `ttl` seconds after they were put; a full cache drops expired, then least recently used
    entries."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: cachetools.TTLCache[K, V] = cachetools.TTLCache(
            max_entries, ttl, timer=clock
        )
        self._loading: dict[K, Future[V]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: K) -> tuple[bool, V | None]:
        """(True, value) for a live entry (the value may itself be None); else (False, None)."""
        with self._lock, self._entries.timer:  # one reading of the clock
            return self._live(key)

    def _live(self, key: K) -> tuple[bool, V | None]:
        self._entries.expire()
        if key not in self._entries:
            return False, None
        return True, self._entries[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value

    def discard(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        """The live entry for `key`, else `load()` put there (a `load` that raises puts nothing:
        the next call loads again).

        One load per key at a time: threads missing while it runs wait for it and get its
        value, or its exception. A burst of requests after the entry expired makes one Jira
        call, not one each."""
        with self._lock, self._entries.timer:
            found, value = self._live(key)
            if found:
                return value  # type: ignore[return-value]  # a live entry holds a V (maybe None)
            flight = self._loading.get(key)
            leading = flight is None
            if flight is None:
                flight = self._loading[key] = Future()
        if not leading:
            return flight.result()
        try:
            value = load()
        except BaseException as error:
            with self._lock:
                del self._loading[key]
            flight.set_exception(error)
            raise
        with self._lock:
            self._entries[key] = value
            del self._loading[key]
        flight.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def key_list(self) -> list[K]:
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class IssueCache:
    """Remembers "not found" too, so a word shaped like a key (`UTF-8`) costs one call per TTL.

    Jira outages are not remembered: the next mention asks again.
    """

    def __init__(self, *, ttl: float = ISSUE_TTL, clock: Callable[[], float] = time.monotonic):
        self._entries: TTLCache[str, JiraIssue | None] = TTLCache(ttl, clock=clock)

    def get(self, issues: IssueService, key: str) -> JiraIssue | None:
        """The issue (within JIRA_PROJECTS), or None when it is not there for Slack users."""
        wanted = key.upper()
        found, issue = self._entries.lookup(wanted)
        if found:
            return issue
        try:
            issue = issues.get(wanted)
        except IssueNotFound:
            issue = None
        self._entries.put(wanted, issue)
        return issue

    def remember(self, issue: JiraIssue, *, key: str | None = None) -> None:
        """A fresher copy, e.g. right after Connect changed the issue."""
        self._entries.put((key or issue.key).upper(), issue)

    def forget(self, key: str) -> None:
        self._entries.discard(key.upper())
