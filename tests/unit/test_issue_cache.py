"""The TTL map and the issue cache in front of Jira (previews, unfurls)."""

from __future__ import annotations

import threading

import pytest

from clients.jira_client import JiraUnavailable
from clients.jira_memory import InMemoryJira
from services.errors import JiraDown
from services.issue_cache import IssueCache, TTLCache
from services.issues import IssueService
from services.policy import ConnectPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_live_for_the_ttl_and_none_is_a_value() -> None:
    clock = Clock()
    cache: TTLCache[str, int | None] = TTLCache(10, clock=clock)
    assert cache.lookup("a") == (False, None)
    cache.put("a", 1)
    cache.put("b", None)
    assert cache.lookup("a") == (True, 1)
    assert cache.lookup("b") == (True, None)
    clock.now += 9.9
    assert cache.lookup("a") == (True, 1)
    clock.now += 0.1
    assert cache.lookup("a") == (False, None)
    assert len(cache) == 1  # the expired entry went on reading


def test_a_full_cache_drops_expired_then_oldest_entries() -> None:
    clock = Clock()
    cache: TTLCache[int, int] = TTLCache(10, max_entries=3, clock=clock)
    cache.put(1, 1)
    clock.now += 11
    cache.put(2, 2)
    cache.put(3, 3)
    cache.put(4, 4)  # 1 expired: dropped, room for 4
    assert [cache.lookup(k)[0] for k in (1, 2, 3, 4)] == [False, True, True, True]
    cache.put(2, 22)  # a put refreshes its place in line
    cache.put(5, 5)  # full of live entries: the oldest (3) goes
    assert [cache.lookup(k)[0] for k in (2, 3, 4, 5)] == [True, False, True, True]
    assert len(cache) == 3


def test_discard_and_concurrent_use() -> None:
    cache: TTLCache[int, int] = TTLCache(60, max_entries=50)

    def work(offset: int) -> None:
        for i in range(500):
            cache.put(offset + i % 80, i)
            cache.lookup(offset + (i * 7) % 80)
            cache.discard(offset + (i * 3) % 80)

    threads = [threading.Thread(target=work, args=(n * 100,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) <= 50


@pytest.fixture
def jira() -> InMemoryJira:
    return InMemoryJira.with_sample_data()


def gets(jira: InMemoryJira) -> int:
    return len([call for call in jira.calls if call[0] == "get_issue"])


def test_a_repeated_key_costs_one_jira_call_per_ttl(jira: InMemoryJira) -> None:
    clock = Clock()
    cache = IssueCache(ttl=300, clock=clock)
    issues = IssueService(jira, ConnectPolicy())
    first = cache.get(issues, "OPS-1")
    assert first is not None and first.key == "OPS-1"
    assert cache.get(issues, "ops-1") == first
    assert gets(jira) == 1
    clock.now += 301
    cache.get(issues, "OPS-1")
    assert gets(jira) == 2


def test_not_found_and_restricted_keys_are_remembered_as_none(jira: InMemoryJira) -> None:
    cache = IssueCache()
    issues = IssueService(jira, ConnectPolicy(allowed_projects=frozenset({"OPS", "UTF"})))
    assert cache.get(issues, "UTF-8") is None
    assert cache.get(issues, "UTF-8") is None
    assert cache.get(issues, "WEB-1") is None  # outside JIRA_PROJECTS: Jira is not asked
    assert gets(jira) == 1


def test_an_outage_is_not_remembered(jira: InMemoryJira) -> None:
    cache = IssueCache()
    issues = IssueService(jira, ConnectPolicy())
    jira.fail_next(JiraUnavailable("down"), operation="get_issue")
    with pytest.raises(JiraDown):
        cache.get(issues, "OPS-1")
    assert cache.get(issues, "OPS-1") is not None


def test_remember_and_forget(jira: InMemoryJira) -> None:
    cache = IssueCache()
    issues = IssueService(jira, ConnectPolicy())
    fresh = jira.get_issue("OPS-2")
    cache.remember(fresh)
    assert cache.get(issues, "OPS-2") is fresh
    cache.forget("ops-2")
    calls = gets(jira)
    cache.get(issues, "OPS-2")
    assert gets(jira) == calls + 1


def test_get_or_load_loads_once_per_ttl_and_keeps_no_failure() -> None:
    clock = Clock()
    cache: TTLCache[str, tuple[str, ...]] = TTLCache(10, clock=clock)
    loads: list[str] = []

    def load() -> tuple[str, ...]:
        loads.append("x")
        return ("OPS", "WEB")

    def broken() -> tuple[str, ...]:
        raise JiraUnavailable("down")

    with pytest.raises(JiraUnavailable):
        cache.get_or_load("projects", broken)
    assert cache.lookup("projects") == (False, None)
    assert cache.get_or_load("projects", load) == ("OPS", "WEB")
    assert cache.get_or_load("projects", load) == ("OPS", "WEB")
    clock.now += 10
    assert cache.get_or_load("projects", load) == ("OPS", "WEB")
    assert loads == ["x", "x"]
    cache.clear()
    assert len(cache) == 0
