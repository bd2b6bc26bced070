"""InMemoryJira behaves like Jira (and like JiraRestClient) for the code that uses it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from clients.jira_client import (
    JiraBadRequest,
    JiraClient,
    JiraFieldErrors,
    JiraNotFound,
    JiraUnavailable,
)
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.model import IssueChange
from simulators.jira_site.sample import with_sample_data

START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def jira(clock: FakeClock) -> InMemoryJira:
    return with_sample_data(InMemoryJira(clock=clock))


def keys(jira: InMemoryJira, jql: str) -> list[str]:
    return [issue.key for issue in jira.search(jql, max_results=100).issues]


def task(summary: str = "Check the pumps", **extra: object) -> dict[str, object]:
    return {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": summary, **extra}


# -- the sample site ---------------------------------------------------------------------------


def test_sample_data_is_a_small_jira_site(jira: InMemoryJira) -> None:
    assert isinstance(jira, JiraClient)
    assert [(p.key, p.name) for p in jira.projects()] == [("OPS", "Operations"), ("WEB", "Website")]
    assert [t.name for t in jira.issue_types("OPS")] == ["Task", "Bug", "Story"]
    assert [p.name for p in jira.priorities()] == ["Highest", "High", "Medium", "Low", "Lowest"]
    assert jira.myself().display_name == "Connect"
    assert jira.server_info().is_cloud
    assert keys(jira, "project in (OPS, WEB) ORDER BY key ASC") == [
        "OPS-1",
        "OPS-2",
        "OPS-3",
        "WEB-1",
    ]
    done = jira.get_issue("OPS-3")
    assert (done.status, done.status_category, done.resolution) == ("Done", "done", "Done")
    assert jira.get_issue("ops-1").assignee == jira.user("alice@example.com")
    assert jira.changes == []  # seeding is not news


def test_unknown_issue_is_not_found(jira: InMemoryJira) -> None:
    with pytest.raises(JiraNotFound):
        jira.get_issue("OPS-99")
    with pytest.raises(JiraNotFound):
        jira.add_comment("NOPE-1", "hello")
    with pytest.raises(JiraNotFound):
        jira.issue_types("NOPE")


def test_every_call_is_logged(jira: InMemoryJira) -> None:
    jira.get_issue("OPS-1")
    jira.search("project = OPS", max_results=5)
    assert jira.calls == [
        ("get_issue", ("OPS-1",), {}),
        ("search", ("project = OPS",), {"max_results": 5, "page_token": None}),
    ]


# -- creating ----------------------------------------------------------------------------------


def test_create_issue_by_connect(jira: InMemoryJira, clock: FakeClock) -> None:
    created = jira.create_issue(
        task(description="line one\nline two", priority={"name": "High"}, labels=["slack"])
    )
    assert created.key == "OPS-4"
    assert created.url == "https://jira.example.com/browse/OPS-4"
    assert (created.status, created.status_category, created.priority) == ("To Do", "new", "High")
    assert created.reporter == jira.myself()
    assert created.description == "line one\nline two"
    assert created.labels == ("slack",)
    assert created.created == created.updated == START
    assert jira.get_issue("OPS-4") == created


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (task(summary="  "), {"summary": "You must specify a summary of the issue."}),
        ({"issuetype": {"id": "10001"}, "summary": "x"}, {"project": "project is required"}),
        (task(project={"key": "NOPE"}), {"project": "valid project is required"}),
        (task(issuetype={"id": "999"}), {"issuetype": "valid issue type is required"}),
        (task(priority={"name": "Urgent"}), {"priority": "Priority name 'Urgent' is not valid"}),
        (task(assignee={"accountId": "ghost"}), {"assignee": "User 'ghost' does not exist."}),
        (
            task(customfield_999="x"),
            {
                "customfield_999": "Field 'customfield_999' cannot be set. "
                "It is not on the appropriate screen, or unknown."
            },
        ),
    ],
)
def test_create_issue_field_errors(
    jira: InMemoryJira, fields: dict[str, object], errors: dict[str, str]
) -> None:
    with pytest.raises(JiraFieldErrors) as caught:
        jira.create_issue(fields)
    assert caught.value.errors == errors
    assert isinstance(caught.value, JiraBadRequest)
    assert keys(jira, "project = OPS") == ["OPS-2", "OPS-1", "OPS-3"]  # nothing was created


def test_required_custom_field_of_an_issue_type(jira: InMemoryJira) -> None:
    metas = {m.field_id: m for m in jira.create_fields("WEB", "10002")}
    severity = metas["customfield_10100"]
    assert severity.required and not severity.has_default
    assert severity.allowed_values[0] == ("20001", "S1 - Outage")
    assert "customfield_10100" not in {m.field_id for m in jira.create_fields("WEB", "10001")}
    bug = {"project": {"key": "WEB"}, "issuetype": {"id": "10002"}, "summary": "Broken"}
    with pytest.raises(JiraFieldErrors) as caught:
        jira.create_issue(bug)
    assert caught.value.errors == {"customfield_10100": "Severity is required."}
    assert jira.create_issue({**bug, "customfield_10100": {"id": "20002"}}).key == "WEB-2"


# -- changing ----------------------------------------------------------------------------------


def test_workflow_transitions(jira: InMemoryJira, clock: FakeClock) -> None:
    assert [(t.id, t.name, t.to_status) for t in jira.transitions("OPS-2")] == [
        ("11", "Start progress", "In Progress"),
        ("31", "Done", "Done"),
    ]
    clock.advance(minutes=5)
    jira.transition_issue("OPS-2", "11")
    moved = jira.get_issue("OPS-2")
    assert (moved.status, moved.status_category, moved.updated) == (
        "In Progress",
        "indeterminate",
        START + timedelta(minutes=5),
    )
    jira.transition_issue("OPS-2", "31")
    assert (jira.get_issue("OPS-2").status_category, jira.get_issue("OPS-2").resolution) == (
        "done",
        "Done",
    )
    assert [t.name for t in jira.transitions("OPS-2")] == ["Reopen"]
    with pytest.raises(JiraBadRequest, match="Transition id '11' is not valid for this issue"):
        jira.transition_issue("OPS-2", "11")
    jira.transition_issue("OPS-2", "41")
    assert jira.get_issue("OPS-2").resolution is None


def test_assign_and_unassign(jira: InMemoryJira) -> None:
    jira.assign_issue("OPS-2", "acc-bob")
    assert jira.get_issue("OPS-2").assignee == jira.user("bob@example.com")
    jira.assign_issue("OPS-2", None)
    assert jira.get_issue("OPS-2").assignee is None
    with pytest.raises(JiraFieldErrors) as caught:
        jira.assign_issue("OPS-2", "ghost")
    assert caught.value.errors == {"assignee": "User 'ghost' cannot be assigned issues."}


def test_comments(jira: InMemoryJira, clock: FakeClock) -> None:
    clock.advance(hours=1)
    comment = jira.add_comment("WEB-1", "Seen on *Android* too\nby Alice via Slack")
    assert comment.author == jira.myself()
    assert comment.created == START + timedelta(hours=1)
    assert jira.comments("WEB-1") == [comment]
    assert jira.get_issue("WEB-1").updated == START + timedelta(hours=1)
    with pytest.raises(JiraFieldErrors):
        jira.add_comment("WEB-1", "   ")


def test_remote_links_are_upserted_by_global_id(jira: InMemoryJira) -> None:
    permalink = "https://acme.slack.com/archives/C1/p1700000000000100"
    for title in ("Slack thread", "Slack thread (renamed)"):
        jira.upsert_remote_link("OPS-1", global_id=f"slack:{permalink}", url=permalink, title=title)
    jira.upsert_remote_link("OPS-1", global_id="slack:other", url=permalink, title="Another")
    links = jira.remote_links("OPS-1")
    assert [(link.global_id, link.title) for link in links] == [
        (f"slack:{permalink}", "Slack thread (renamed)"),
        ("slack:other", "Another"),
    ]


def test_find_users_by_email(jira: InMemoryJira) -> None:
    assert [u.account_id for u in jira.find_users_by_email("Carol@Example.com")] == ["acc-carol"]
    assert jira.find_users_by_email("nobody@example.com") == []


# -- people acting in Jira ---------------------------------------------------------------------


def test_act_as_credits_the_person_on_this_thread_only(jira: InMemoryJira) -> None:
    seen: list[IssueChange] = []
    jira.add_listener(seen.append)
    with jira.act_as("alice@example.com") as alice:
        jira.transition_issue("OPS-2", "11")
        other = threading.Thread(target=lambda: jira.add_comment("OPS-2", "from Connect"))
        other.start()
        other.join()
        mine = jira.add_comment("OPS-2", "on it")
    assert mine.author == alice
    assert [c.author for c in jira.comments("OPS-2")] == [jira.myself(), alice]
    status = next(c for c in seen if c.field == "status")
    assert (status.old, status.new, status.actor) == ("To Do", "In Progress", alice)
    assert seen == jira.changes


def test_jira_side_edits_moves_and_deletes(jira: InMemoryJira, clock: FakeClock) -> None:
    clock.advance(minutes=1)
    with jira.act_as("bob@example.com"):
        edited = jira.update_issue("OPS-2", summary="Rotate all TLS certificates", priority="High")
    assert (edited.summary, edited.priority, edited.updated) == (
        "Rotate all TLS certificates",
        "High",
        START + timedelta(minutes=1),
    )
    moved = jira.move_issue("OPS-2", "WEB")
    assert (moved.key, moved.project_key, moved.id) == ("WEB-2", "WEB", edited.id)
    assert jira.get_issue("OPS-2").key == "WEB-2"  # Jira answers to the old key
    assert keys(jira, "key = OPS-2") == ["WEB-2"]
    jira.delete_issue("WEB-2")
    with pytest.raises(JiraNotFound):
        jira.get_issue("WEB-2")
    assert [c.field for c in jira.changes][-1] == "deleted"


# -- failures and latency ----------------------------------------------------------------------


def test_fail_next_injects_errors(jira: InMemoryJira) -> None:
    jira.fail_next(JiraUnavailable("Jira is down"), operation="search", times=2)
    assert jira.get_issue("OPS-1").key == "OPS-1"  # other operations are untouched
    for _ in range(2):
        with pytest.raises(JiraUnavailable, match="Jira is down"):
            jira.search("project = OPS")
    assert keys(jira, "project = WEB") == ["WEB-1"]
    jira.fail_next(JiraNotFound("gone"))
    with pytest.raises(JiraNotFound):
        jira.projects()


def test_delay_applies_to_every_call_without_serialising_them(jira: InMemoryJira) -> None:
    jira.delay_seconds = 1.0
    started = time.monotonic()
    threads = [threading.Thread(target=jira.get_issue, args=("OPS-1",)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1.0 <= time.monotonic() - started < 4.5  # one after another would take 5 s


# -- search and the JQL subset -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("key = OPS-1", ["OPS-1"]),
        ("issuekey in (ops-3, WEB-1) ORDER BY key", ["OPS-3", "WEB-1"]),
        ("project = OPS ORDER BY key ASC", ["OPS-1", "OPS-2", "OPS-3"]),
        ('project in ("Website") ', ["WEB-1"]),
        ('status = "In Progress"', ["OPS-1"]),
        ("status in ('To Do', Done) ORDER BY key DESC", ["WEB-1", "OPS-3", "OPS-2"]),
        ("status != Done ORDER BY key", ["OPS-1", "OPS-2", "WEB-1"]),
        ("statusCategory = done", ["OPS-3"]),
        ('text ~ "backup"', ["OPS-1"]),  # words match as prefixes, like Jira's stemming
        ('text ~ "runbook"', ["OPS-1"]),  # the description is searched too
        ('summary ~ "login mobile"', ["WEB-1"]),
        ('summary ~ "login desktop"', []),
        ('summary ~ "\\"database backup\\""', ["OPS-1"]),
        ('summary !~ "login" AND project = WEB', []),
        ("assignee = acc-alice", ["OPS-1"]),
        ('assignee = "bob@example.com"', ["OPS-3"]),
        ("assignee is EMPTY", ["OPS-2"]),
        ("assignee != acc-alice ORDER BY key", ["OPS-3", "WEB-1"]),  # empty never matches !=
        ("assignee not in (acc-alice, acc-bob)", ["WEB-1"]),
        ("reporter = acc-alice ORDER BY key", ["OPS-3", "WEB-1"]),
        ("resolution = Unresolved ORDER BY key", ["OPS-1", "OPS-2", "WEB-1"]),
        ("resolution is not EMPTY", ["OPS-3"]),
        ("type = Bug ORDER BY key", ["OPS-1", "WEB-1"]),
        ("priority in (High, Low) ORDER BY priority DESC", ["OPS-1", "OPS-3"]),
        ("labels = backups", ["OPS-1"]),
        ("project = OPS AND status = Done OR key = WEB-1 ORDER BY key", ["OPS-3", "WEB-1"]),
        ("project = OPS AND (status = Done OR key = WEB-1)", ["OPS-3"]),
        ("NOT project = OPS", ["WEB-1"]),
        ("created >= -2d ORDER BY created ASC", ["OPS-2", "WEB-1"]),
        ('created < "2025/03/08" ORDER BY key', ["OPS-1", "OPS-3"]),
        ('created >= "2025-03-09 09:00"', ["WEB-1"]),
        ("project in (OPS, WEB)", ["WEB-1", "OPS-2", "OPS-1", "OPS-3"]),  # newest first
    ],
)
def test_jql_subset(jira: InMemoryJira, jql: str, expected: list[str]) -> None:
    assert keys(jira, jql) == expected


def test_assignee_current_user_is_whoever_is_acting(jira: InMemoryJira) -> None:
    assert keys(jira, "assignee = currentUser()") == []
    with jira.act_as("carol@example.com"):
        assert keys(jira, "assignee = currentUser()") == ["WEB-1"]


def test_updated_since_a_cursor(jira: InMemoryJira, clock: FakeClock) -> None:
    clock.advance(minutes=10)
    cursor = clock.now.strftime("%Y/%m/%d %H:%M")
    assert keys(jira, f'updated >= "{cursor}"') == []
    clock.advance(minutes=1)
    with jira.act_as("bob@example.com"):
        jira.transition_issue("WEB-1", "11")
    assert keys(jira, f'project in (OPS, WEB) AND updated >= "{cursor}" ORDER BY updated') == [
        "WEB-1"
    ]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("key in (OPS-1, OPS-99)", "An issue with key 'OPS-99' does not exist for field 'key'."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("status = Blocked", "The value 'Blocked' does not exist for the field 'status'."),
        ("flavour = vanilla", "Field 'flavour' does not exist"),
        ("status ~ Done", "The operator '~' is not supported by the 'status' field."),
        ("project = OPS AND", "Error in the JQL Query"),
        ("project = OPS ORDER", "Error in the JQL Query"),
        ("(project = OPS", "Error in the JQL Query"),
        ("key in OPS-1", "Error in the JQL Query"),
        ("assignee = someoneElse()", "Unable to find JQL function 'someoneElse()'."),
        ('updated >= "last tuesday"', "Date value 'last tuesday' for field 'updated' is invalid"),
        ("project = OPS ORDER BY flavour", "Not able to sort using field 'flavour'."),
    ],
)
def test_jql_errors_are_bad_requests(jira: InMemoryJira, jql: str, message: str) -> None:
    with pytest.raises(JiraBadRequest) as caught:
        jira.search(jql)
    assert message in caught.value.message


def test_search_pages(jira: InMemoryJira) -> None:
    jql = "project in (OPS, WEB) ORDER BY key"
    first = jira.search(jql, max_results=3)
    assert [i.key for i in first.issues] == ["OPS-1", "OPS-2", "OPS-3"]
    assert first.next_page_token is not None
    second = jira.search(jql, max_results=3, page_token=first.next_page_token)
    assert ([i.key for i in second.issues], second.next_page_token) == (["WEB-1"], None)
    with pytest.raises(JiraBadRequest):
        jira.search(jql, page_token="not-a-token")


def test_search_with_comments_brings_them_in_the_same_call(
    jira: InMemoryJira, clock: FakeClock
) -> None:
    clock.advance(minutes=5)
    with jira.act_as("carol@example.com"):
        said = jira.add_comment("OPS-2", "Renewed the staging cert.")
    jira.calls.clear()
    page = jira.search("key in (OPS-1, OPS-2) ORDER BY key", with_comments=True)
    assert [(i.key, i.comments) for i in page.issues] == [("OPS-1", ()), ("OPS-2", (said,))]
    assert jira.calls == [
        (
            "search",
            ("key in (OPS-1, OPS-2) ORDER BY key",),
            {"max_results": 50, "page_token": None, "with_comments": True},
        )
    ]
    plain = jira.search("key = OPS-2")
    assert plain.issues[0].comments == ()  # not asked for


@pytest.mark.parametrize("jql", ["", "ORDER BY updated DESC"])
def test_cloud_refuses_unbounded_queries_data_center_does_not(jql: str) -> None:
    with pytest.raises(JiraBadRequest, match="Unbounded JQL queries are not allowed here"):
        with_sample_data(InMemoryJira()).search(jql)
    data_center = with_sample_data(InMemoryJira(deployment_type="Server"))
    assert len(data_center.search(jql).issues) == 4


def test_page_size_is_capped_like_jira(clock: FakeClock) -> None:
    jira = InMemoryJira(clock=clock, max_page_size=100)
    jira.add_project("BIG", "Big")
    for n in range(150):
        jira.add_issue("BIG", f"Issue {n}")
    page = jira.search("project = BIG ORDER BY key", max_results=500)
    assert len(page.issues) == 100
    rest = jira.search(
        "project = BIG ORDER BY key", max_results=500, page_token=page.next_page_token
    )
    assert (len(rest.issues), rest.next_page_token) == (50, None)


# -- search answers from its index like Jira's ---------------------------------------------------


def test_key_lists_answer_as_the_whole_query_would(jira: InMemoryJira) -> None:
    every = keys(jira, "project = OPS ORDER BY key ASC")
    first, second = every[0], every[1]
    listed = f'key in ("{first}", "{second}")'
    assert keys(jira, f"{listed} AND project = OPS ORDER BY key ASC") == [first, second]
    # With OR, a key list no longer bounds what matches: every OPS issue answers.
    assert keys(jira, f"{listed} AND project = WEB OR project = OPS ORDER BY key ASC") == every
    assert keys(jira, f'key in ("{first}") AND NOT key = "{first}"') == []


def test_a_poll_batch_of_keys_is_answered_at_any_length(jira: InMemoryJira) -> None:
    """Connect's own `key in (…)` of 100 keys may be longer than what a person may type."""
    listed = ", ".join(['"OPS-1"'] * 300 + ['"OPS-2"'])
    jql = f"key in ({listed}) AND project = OPS ORDER BY key"
    assert len(jql) > 2_000
    assert keys(jira, jql) == ["OPS-1", "OPS-2"]


def test_the_same_search_sees_changes_and_time_passing(
    jira: InMemoryJira, clock: FakeClock
) -> None:
    jql = "project = OPS AND updated >= -5m ORDER BY key ASC"
    assert keys(jira, jql) == []
    key = keys(jira, "project = OPS ORDER BY key ASC")[0]
    jira.update_issue(key, summary="Touched")
    assert keys(jira, jql) == [key]  # a change: asked again
    clock.advance(minutes=6)
    assert keys(jira, jql) == []  # time passed: asked again
