"""The poller's searches: paging, and setting apart what Jira refuses in a batch."""

from __future__ import annotations

from typing import Any

import pytest

from clients.jira_client import JiraBadRequest
from services.jira_changes.poll_search import UpdatedSearch, keys_named, quoted, values_named
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data


@pytest.fixture
def jira() -> InMemoryJira:
    jira = with_sample_data(InMemoryJira())
    jira.add_project("BIG", "Big")
    for n in range(40):
        jira.add_issue("BIG", f"Issue {n}")
    jira.calls.clear()
    return jira


def test_jiras_messages_name_keys_and_values() -> None:
    assert keys_named("An issue with key 'OPS-99' does not exist for field 'key'.") == {"OPS-99"}
    assert keys_named("The issue key 'OPS-1x' for field 'key' is invalid.") == set()
    assert values_named("The value 'nope' does not exist for the field 'project'.") == {
        "NOPE",
        "PROJECT",
    }
    assert quoted(["OPS-1", "OPS-2"]) == '"OPS-1", "OPS-2"'


def test_pages_follow_the_token_and_ask_for_comments_and_the_changelog(jira: InMemoryJira) -> None:
    search = UpdatedSearch(jira, minutes=5, page_size=15)
    issues = search.pages('project = "BIG"')
    assert len(issues) == 40 and search.searches == 3
    (first, *_) = [call for call in jira.calls if call[0] == "search"]
    assert first[1] == ('project = "BIG" AND updated >= -5m ORDER BY created ASC',)
    assert first[2] == {
        "max_results": 15,
        "page_token": None,
        "with_comments": True,
        "with_changelog": True,
    }


def test_named_keys_are_set_apart_and_the_rest_asked_again(jira: InMemoryJira) -> None:
    search = UpdatedSearch(jira, minutes=5, page_size=100)
    rejected: list[tuple[str, bool]] = []
    issues = search.apart(
        ["BIG-1", "BIG-98", "BIG-2", "BIG-99"],
        lambda part: f"key in ({quoted(part)})",
        keys_named,
        lambda key, named, error: rejected.append((key, named)),
    )
    assert sorted(i.key for i in issues) == ["BIG-1", "BIG-2"]
    assert rejected == [("BIG-98", True), ("BIG-99", True)]  # Jira names one at a time
    assert search.searches == 3


def test_unnamed_refusals_are_found_by_halving(jira: InMemoryJira) -> None:
    class Unhelpful:
        def __getattr__(self, name: str) -> Any:
            return getattr(jira, name)

        def search(self, jql: str, **options: Any) -> Any:
            try:
                return jira.search(jql, **options)
            except JiraBadRequest:
                raise JiraBadRequest("Ungültige Abfrage.") from None

    search = UpdatedSearch(Unhelpful(), minutes=5, page_size=100)
    keys = [f"BIG-{n}" for n in range(1, 33)]
    keys[20] = "BIG-404"
    rejected: list[tuple[str, bool]] = []
    issues = search.apart(
        keys,
        lambda part: f"key in ({quoted(part)})",
        keys_named,
        lambda key, named, error: rejected.append((key, named)),
    )
    assert rejected == [("BIG-404", False)]
    assert len(issues) == 31
    assert search.searches == 1 + 2 * 5  # 32 → 16 → 8 → 4 → 2 → 1


def test_a_rejection_can_stop_the_search(jira: InMemoryJira) -> None:
    jira.fail_next(JiraBadRequest("Something else."), operation="search", times=20)

    def give_up(item: str, named: bool, error: JiraBadRequest) -> None:
        raise error

    search = UpdatedSearch(jira, minutes=5, page_size=100)
    with pytest.raises(JiraBadRequest, match="Something else"):
        search.apart(["BIG-1", "BIG-2", "BIG-3", "BIG-4"], quoted, keys_named, give_up)
    assert search.searches == 3  # down to the first single key, not through every half
