"""JiraRestClient (the real `jira` package over real HTTP) against the fake Jira REST server."""

from __future__ import annotations

import base64
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from clients.jira_client import (
    JiraAuthError,
    JiraBadRequest,
    JiraClient,
    JiraError,
    JiraFieldErrors,
    JiraNotFound,
    JiraUnavailable,
)
from clients.jira_rest import ISSUE_FIELDS, JIRA_CONNECTIONS, JiraRestClient
from clients.jira_wire import parse_issue
from simulators.jira_site.server import FakeJiraServer

API = "/rest/api/2"


class RecordingObserver:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, float]] = []

    def record(self, service: str, operation: str, outcome: str, seconds: float) -> None:
        self.records.append((service, operation, outcome, seconds))

    def outcomes(self) -> list[tuple[str, str]]:
        return [(operation, outcome) for _, operation, outcome, _ in self.records]


@pytest.fixture(params=["Cloud", "Server"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeJiraServer]:
    """A fake Jira Cloud site, then a fake Data Center one."""
    with FakeJiraServer(deployment_type=request.param) as fake:
        yield fake


@pytest.fixture
def cloud() -> Iterator[FakeJiraServer]:
    with FakeJiraServer(deployment_type="Cloud") as fake:
        yield fake


@pytest.fixture
def dc() -> Iterator[FakeJiraServer]:
    with FakeJiraServer(deployment_type="Server") as fake:
        yield fake


def client_for(fake: FakeJiraServer, **options: Any) -> JiraRestClient:
    if fake.cloud:
        return JiraRestClient(fake.url, email=fake.email, api_token=fake.api_token, **options)
    return JiraRestClient(fake.url, pat=SecretStr(fake.pat), **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- construction and deployment type ----------------------------------------------------------


def test_construction_is_lazy_and_thread_safe(server: FakeJiraServer) -> None:
    client = client_for(server)
    assert isinstance(client, JiraClient)
    assert server.requests == []  # jira.JIRA() would have called serverInfo already
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(client.server_info())) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and results[0].is_cloud == server.cloud
    assert server.paths() == [f"{API}/serverInfo"]  # asked once, then cached


def test_deployment_type_comes_from_server_info_not_the_host(dc: FakeJiraServer) -> None:
    info = client_for(dc).server_info()
    assert (info.deployment_type, info.is_cloud, info.version) == ("Server", False, "9.12.0")
    assert info.base_url == dc.url


def test_authentication_headers(server: FakeJiraServer) -> None:
    client_for(server).myself()
    header = server.requests[0].headers["Authorization"]
    if server.cloud:
        expected = base64.b64encode(f"{server.email}:{server.api_token}".encode()).decode()
        assert header == f"Basic {expected}"
    else:
        assert header == f"Bearer {server.pat}"


def test_needs_one_kind_of_credentials() -> None:
    with pytest.raises(ValueError, match="email and api_token"):
        JiraRestClient("https://jira.example.com")
    with pytest.raises(ValueError, match="not both"):
        JiraRestClient("https://jira.example.com", email="a@b.c", api_token="t", pat="p")


# -- reading -----------------------------------------------------------------------------------


def test_get_issue_asks_only_for_the_fields_it_needs(server: FakeJiraServer) -> None:
    issue = client_for(server).get_issue("OPS-1")
    # Everything survives the wire: users, dates, wiki markup and line breaks.
    assert issue == replace(server.jira.get_issue("OPS-1"), url=f"{server.url}/browse/OPS-1")
    request = server.requests[0]
    assert (request.method, request.path) == ("GET", f"{API}/issue/OPS-1")
    assert request.query["fields"] == [",".join(ISSUE_FIELDS)]


def test_missing_issue_is_not_found(server: FakeJiraServer) -> None:
    with pytest.raises(JiraNotFound, match="does not exist"):
        client_for(server).get_issue("OPS-404")


def test_keys_cannot_reach_other_resources(server: FakeJiraServer) -> None:
    with pytest.raises(JiraNotFound):
        client_for(server).get_issue("../myself")
    assert server.paths() == [f"{API}/issue/..%2Fmyself"]  # one path segment, quoted


def test_cloud_search_uses_search_jql_and_follows_next_page_token(cloud: FakeJiraServer) -> None:
    client = client_for(cloud)
    first = client.search("project = OPS ORDER BY key", max_results=2)
    assert [i.key for i in first.issues] == ["OPS-1", "OPS-2"]
    assert first.next_page_token
    second = client.search(
        "project = OPS ORDER BY key", max_results=2, page_token=first.next_page_token
    )
    assert ([i.key for i in second.issues], second.next_page_token) == (["OPS-3"], None)
    searches = [r for r in cloud.requests if r.path.startswith(f"{API}/search")]
    assert [r.path for r in searches] == [f"{API}/search/jql"] * 2
    assert searches[1].query["nextPageToken"] == [first.next_page_token]
    assert set(searches[0].query["fields"]) == set(ISSUE_FIELDS)


def test_data_center_search_uses_search_with_start_at(dc: FakeJiraServer) -> None:
    client = client_for(dc)
    first = client.search("project = OPS ORDER BY key", max_results=2)
    assert ([i.key for i in first.issues], first.next_page_token) == (["OPS-1", "OPS-2"], "2")
    second = client.search("project = OPS ORDER BY key", max_results=2, page_token="2")
    assert ([i.key for i in second.issues], second.next_page_token) == (["OPS-3"], None)
    searches = [r for r in dc.requests if r.path.startswith(f"{API}/search")]
    assert [r.path for r in searches] == [f"{API}/search"] * 2
    assert searches[1].query["startAt"] == ["2"]
    with pytest.raises(JiraBadRequest):
        client.search("project = OPS", page_token="opaque-cloud-token")


def test_search_with_comments_asks_for_the_comment_field(server: FakeJiraServer) -> None:
    with server.jira.act_as("carol@example.com"):
        said = server.jira.add_comment("OPS-2", "Renewed the *staging* cert.\nDone.")
    client = client_for(server)
    page = client.search("key in (OPS-1, OPS-2) ORDER BY key", with_comments=True)
    assert [(i.key, i.comments) for i in page.issues] == [("OPS-1", ()), ("OPS-2", (said,))]
    plain = client.search("key in (OPS-1, OPS-2) ORDER BY key")
    assert [i.comments for i in plain.issues] == [(), ()]
    first, second = [r for r in server.requests if r.path.startswith(f"{API}/search")]
    assert set(first.query["fields"]) == {*ISSUE_FIELDS, "comment"}
    assert set(second.query["fields"]) == set(ISSUE_FIELDS)


def test_search_with_changelog_says_who_changed_what(server: FakeJiraServer) -> None:
    jira = server.jira
    with jira.act_as("carol@example.com"):
        jira.update_issue("OPS-2", priority="High")
    with jira.act_as("bob@example.com"):
        jira.transition_issue("OPS-2", "11")
    carol, bob = jira.user("carol@example.com"), jira.user("bob@example.com")
    client = client_for(server)
    (issue,) = client.search("key = OPS-2", with_changelog=True).issues
    # Cloud lists the latest entries first, Data Center the oldest: the order is not relied on.
    assert {(carol, ("priority",)), (bob, ("status",))} <= {
        (entry.author, entry.fields) for entry in issue.history
    }
    assert all(entry.created is not None for entry in issue.history)
    (plain,) = client.search("key = OPS-2").issues
    assert plain.history == ()
    asked, unasked = [r for r in server.requests if r.path.startswith(f"{API}/search")]
    assert asked.query["expand"] == ["changelog"]
    assert "expand" not in unasked.query


def test_changelog_items_of_custom_fields_are_left_out() -> None:
    raw = {
        "id": "10001",
        "key": "OPS-1",
        "fields": {},
        "changelog": {
            "histories": [
                {
                    "author": {"accountId": "a1", "displayName": "Alice"},
                    "created": "2024-01-15T10:30:00.000+0000",
                    "items": [
                        {
                            "field": "Story Points",
                            "fieldtype": "custom",
                            "fieldId": "customfield_1",
                        },
                        {"field": "status", "fieldtype": "jira", "fieldId": "status"},
                        {"field": "Assignee", "fieldtype": "jira"},
                    ],
                },
                "not an entry",
                {"items": "not a list"},
            ]
        },
    }
    first, odd = parse_issue(raw, "https://jira.example").history
    assert (first.author and first.author.display_name, first.fields) == (
        "Alice",
        ("status", "assignee"),
    )
    assert (odd.author, odd.created, odd.fields) == (None, None, ())


def test_bad_jql_carries_jiras_message(server: FakeJiraServer) -> None:
    with pytest.raises(JiraBadRequest) as caught:
        client_for(server).search("key in (OPS-1, OPS-999)")
    assert caught.value.message == "An issue with key 'OPS-999' does not exist for field 'key'."


def test_catalogues(server: FakeJiraServer) -> None:
    client = client_for(server)
    assert [(p.key, p.name) for p in client.projects()] == [
        ("OPS", "Operations"),
        ("WEB", "Website"),
    ]
    assert next(p.name for p in client.priorities()) == "Highest"
    me = client.myself()
    assert (me.account_id, me.display_name) == ("acc-connect", "Connect")


def test_createmeta_through_the_rest_resource_with_paging(server: FakeJiraServer) -> None:
    server.api.page_size = 2  # make the client follow pages
    client = client_for(server)
    assert [t.name for t in client.issue_types("WEB")] == ["Task", "Bug", "Story"]
    fields = {f.field_id: f for f in client.create_fields("WEB", "10002")}
    assert fields["summary"].required
    severity = fields["customfield_10100"]
    assert (severity.required, severity.has_default, severity.schema_type) == (
        True,
        False,
        "option",
    )
    assert severity.allowed_values[1] == ("20002", "S2 - Degraded")
    assert fields["priority"].has_default
    meta_paths = [p for p in server.paths() if "createmeta" in p]
    assert meta_paths[:2] == [f"{API}/issue/createmeta/WEB/issuetypes"] * 2
    assert len(meta_paths) == 2 + 4  # 3 types in pages of 2; 8 fields in pages of 2


def test_find_users_by_email(server: FakeJiraServer) -> None:
    users = client_for(server).find_users_by_email("bob@example.com")
    assert [(u.account_id, u.email) for u in users] == [("acc-bob", "bob@example.com")]
    search = next(r for r in server.requests if r.path == f"{API}/user/search")
    assert search.query["query" if server.cloud else "username"] == ["bob@example.com"]


def test_find_users_by_email_takes_no_fuzzy_or_hidden_hit(server: FakeJiraServer) -> None:
    server.api.hidden_emails.add("acc-alice")
    client = client_for(server)
    assert client.find_users_by_email("alice@example.co") == []  # a prefix of Alice's address
    assert client.find_users_by_email("alice@example.com") == []  # hidden: nothing to compare
    server.api.hidden_emails.clear()
    assert [u.account_id for u in client.find_users_by_email("ALICE@example.com")] == ["acc-alice"]


# -- writing -----------------------------------------------------------------------------------


def test_create_issue(server: FakeJiraServer) -> None:
    created = client_for(server).create_issue(
        {
            "project": {"key": "OPS"},
            "issuetype": {"id": "10001"},
            "summary": "Disk full on build-agent-3",
            "description": "From Slack:\n> df says 100%\nby Alice via Slack",
            "priority": {"name": "High"},
            "labels": ["slack"],
        }
    )
    assert (created.key, created.status, created.priority) == ("OPS-4", "To Do", "High")
    assert created.description == "From Slack:\n> df says 100%\nby Alice via Slack"
    assert created.reporter is not None and created.reporter.account_id == "acc-connect"
    assert created.url == f"{server.url}/browse/OPS-4"
    assert server.paths("POST") == [f"{API}/issue"]


def test_create_issue_field_errors(server: FakeJiraServer) -> None:
    with pytest.raises(JiraFieldErrors) as caught:
        client_for(server).create_issue(
            {"project": {"key": "WEB"}, "issuetype": {"id": "10002"}, "summary": ""}
        )
    assert caught.value.errors == {
        "summary": "You must specify a summary of the issue.",
        "customfield_10100": "Severity is required.",
    }
    assert server.jira.search_all("project = WEB") == [server.jira.get_issue("WEB-1")]


def test_transition_assign_and_comment(server: FakeJiraServer) -> None:
    client = client_for(server)
    assert [t.name for t in client.transitions("OPS-2")] == ["Start progress", "Done"]
    client.transition_issue("OPS-2", "11")
    client.assign_issue("OPS-2", "acc-carol")
    comment = client.add_comment("OPS-2", "Picked up *today*\nby Carol via Slack")
    issue = server.jira.get_issue("OPS-2")
    assert (issue.status, issue.assignee and issue.assignee.account_id) == (
        "In Progress",
        "acc-carol",
    )
    assert comment.body == "Picked up *today*\nby Carol via Slack"
    assert comment.author is not None and comment.author.account_id == "acc-connect"
    client.assign_issue("OPS-2", None)
    assert server.jira.get_issue("OPS-2").assignee is None
    bodies = [r.body for r in server.requests if r.path.endswith("/assignee")]
    field = "accountId" if server.cloud else "name"  # what each deployment accepts
    assert bodies == [{field: "acc-carol"}, {field: None}]
    with pytest.raises(JiraBadRequest, match="not valid for this issue"):
        client.transition_issue("OPS-2", "41")


def test_remote_link_upsert_keeps_one_link(server: FakeJiraServer) -> None:
    client = client_for(server)
    permalink = "https://acme.slack.com/archives/C1/p1700000000000100"
    for title in ("Slack: #support", "Slack: #support (edited)"):
        client.upsert_remote_link(
            "OPS-1", global_id=f"slack-{permalink}", url=permalink, title=title, summary="thread"
        )
    links = server.jira.remote_links("OPS-1")
    assert [(link.url, link.title) for link in links] == [(permalink, "Slack: #support (edited)")]
    posts = [r for r in server.requests if r.path.endswith("/remotelink")]
    assert [r.status for r in posts] == [201, 200]
    assert posts[0].body["globalId"] == f"slack-{permalink}"


# -- retries, timeouts and failures ------------------------------------------------------------


def test_429_with_retry_after_is_retried(server: FakeJiraServer) -> None:
    observer = RecordingObserver()
    server.fail_next(429, retry_after=1)
    started = time.monotonic()
    issue = client_for(server, observer=observer).get_issue("OPS-1")
    assert issue.key == "OPS-1"
    assert 0.9 <= time.monotonic() - started < 5
    assert [r.status for r in server.requests] == [429, 200]
    assert observer.outcomes() == [("get_issue", "ok")]


def test_503_without_retry_after_backs_off_briefly(cloud: FakeJiraServer) -> None:
    cloud.fail_next(503, times=2)
    assert client_for(cloud).get_issue("OPS-1").key == "OPS-1"
    assert [r.status for r in cloud.requests] == [503, 503, 200]


def test_retry_after_beyond_the_budget_fails_fast(server: FakeJiraServer) -> None:
    observer = RecordingObserver()
    server.fail_next(429, retry_after=60)
    client = client_for(server, retry_budget_seconds=5, observer=observer)
    started = time.monotonic()
    with pytest.raises(JiraUnavailable, match="limiting"):
        client.get_issue("OPS-1")
    assert time.monotonic() - started < 30  # it did not sleep the 60 s Jira asked for
    assert len(server.requests) == 1
    assert observer.outcomes() == [("get_issue", "JiraUnavailable")]


def test_throttling_that_outlasts_the_budget_gives_up(cloud: FakeJiraServer) -> None:
    cloud.fail_next(503, times=10, retry_after=1)
    with pytest.raises(JiraUnavailable):
        client_for(cloud, retry_budget_seconds=1.5).get_issue("OPS-1")
    assert [r.status for r in cloud.requests] == [503, 503]  # a third wait would pass 1.5 s


def test_create_is_not_repeated_when_its_follow_up_read_is_throttled(
    cloud: FakeJiraServer,
) -> None:
    cloud.fail_next(429, retry_after=1, path="/issue/OPS-4")
    created = client_for(cloud).create_issue(
        {"project": {"key": "OPS"}, "issuetype": {"id": "10001"}, "summary": "Once"}
    )
    assert created.key == "OPS-4"
    assert cloud.paths("POST") == [f"{API}/issue"]
    assert len(cloud.jira.search_all('summary ~ "Once"')) == 1


def test_connection_refused_is_unavailable() -> None:
    client = JiraRestClient(f"http://127.0.0.1:{free_port()}", pat="secret-pat")
    with pytest.raises(JiraUnavailable, match="could not be reached"):
        client.get_issue("OPS-1")


def test_timeout_is_honoured(server: FakeJiraServer) -> None:
    server.delay_seconds = 20
    client = client_for(server, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(JiraUnavailable, match="in time"):
        client.get_issue("OPS-1")
    assert time.monotonic() - started < 15  # cut short, not the 20 s Jira took


def test_wrong_credentials_are_an_auth_error(server: FakeJiraServer) -> None:
    client = (
        JiraRestClient(server.url, email=server.email, api_token="wrong-token")
        if server.cloud
        else JiraRestClient(server.url, pat="wrong-pat")
    )
    with pytest.raises(JiraAuthError) as caught:
        client.myself()
    assert caught.value.status == 401


def test_credentials_never_appear_in_errors(server: FakeJiraServer) -> None:
    secret = "sUp3r-s3cret-t0ken-xyz"
    client = (
        JiraRestClient(server.url, email=server.email, api_token=SecretStr(secret))
        if server.cloud
        else JiraRestClient(server.url, pat=secret)
    )
    encoded = base64.b64encode(f"{server.email}:{secret}".encode()).decode()
    errors: list[JiraError] = []
    for failure in (None, 404, 400, 503):
        if failure:
            server.fail_next(failure, retry_after=99)
        with pytest.raises(JiraError) as caught:
            client.get_issue("OPS-1")
        errors.append(caught.value)
    assert [type(e).__name__ for e in errors] == [
        "JiraAuthError",
        "JiraNotFound",
        "JiraBadRequest",
        "JiraUnavailable",
    ]
    for error in errors:
        shown = "".join(traceback.format_exception(error)) + repr(error) + str(error.args)
        assert secret not in shown
        assert encoded not in shown
        assert error.__cause__ is None and error.__suppress_context__
    assert secret not in repr(client)


def test_the_environment_is_read_once_for_the_site(
    cloud: FakeJiraServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # requests reads proxies (honouring no_proxy) and the CA bundle from the environment on
    # every call; the Jira site is fixed, so the client reads them once, with the same result.
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    local = client_for(cloud)
    assert local.get_issue("OPS-1").key == "OPS-1"  # 127.0.0.1 bypasses the proxy
    session = local._client()._session
    assert session.trust_env is False
    assert session.proxies == {}
    assert session.get_adapter(cloud.url)._pool_maxsize == JIRA_CONNECTIONS  # type: ignore[attr-defined]

    remote = JiraRestClient("https://acme.atlassian.net", email="a@b.c", api_token="t")
    session = remote._client()._session
    assert session.proxies["https"] == "http://proxy.example:3128"
    assert session.verify == str(bundle)
