"""The TTL map and the issue cache in front of Jira (previews, unfurls)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from clients.jira_client import JiraUnavailable
from services.errors import JiraDown
from services.issues.cache import IssueCache, TTLCache
from services.issues.service import IssueService
from services.policy import ConnectPolicy
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from tests.waiting import wait_until


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
    assert len(cache) == 0  # expired entries went on reading


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
    return with_sample_data(InMemoryJira())


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


class CountingClock(Clock):
    """A clock that counts its readings: get_or_load reads it once, under the cache's lock,
    before it looks for a load in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return self.now

    def wait_for(self, readings: int) -> None:
        wait_until(lambda: self.readings >= readings, what=f"{readings} clock readings")


def _ask_in_threads(
    cache: TTLCache[str, tuple[str, ...]], load: Callable[[], tuple[str, ...]], count: int
) -> tuple[list[threading.Thread], list[object]]:
    """`count` threads asking for "projects"; what each got (a value or the error) lands in
    the list once they are joined."""
    outcomes: list[object] = []
    lock = threading.Lock()

    def ask() -> None:
        try:
            got: object = cache.get_or_load("projects", load)
        except JiraUnavailable as error:
            got = error
        with lock:
            outcomes.append(got)

    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def _race(
    answer: Callable[[], tuple[str, ...]], waiters: int
) -> tuple[TTLCache[str, tuple[str, ...]], int, list[object]]:
    """One thread misses "projects" and starts loading; `waiters` more miss while that load
    is held open; then it answers with `answer()`. The cache, how many loads ran, and what
    every thread got (the leader's first)."""
    clock = CountingClock()
    cache: TTLCache[str, tuple[str, ...]] = TTLCache(10, clock=clock)
    release = threading.Event()
    loads: list[str] = []

    def load() -> tuple[str, ...]:
        loads.append("x")
        release.wait(10)  # still loading while the others miss
        return answer()

    leader, led = _ask_in_threads(cache, load, 1)
    clock.wait_for(1)
    others, waited = _ask_in_threads(cache, load, waiters)
    clock.wait_for(1 + waiters)  # every waiter has found the load in flight
    release.set()
    _join(leader + others)
    return cache, len(loads), led + waited


def test_threads_missing_at_once_share_one_load() -> None:
    cache, loads, outcomes = _race(lambda: ("OPS", "WEB"), 8)
    assert loads == 1
    assert outcomes == [("OPS", "WEB")] * 9
    assert cache.lookup("projects") == (True, ("OPS", "WEB"))


def test_a_failed_load_fails_its_waiters_and_the_next_miss_loads_again() -> None:
    def down() -> tuple[str, ...]:
        raise JiraUnavailable("Jira is down")

    cache, loads, outcomes = _race(down, 4)
    assert loads == 1
    assert len(outcomes) == 5
    assert all(isinstance(outcome, JiraUnavailable) for outcome in outcomes)
    assert cache.lookup("projects") == (False, None)
    assert cache.get_or_load("projects", lambda: ("OPS",)) == ("OPS",)
