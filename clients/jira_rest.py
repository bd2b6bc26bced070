"""`JiraRestClient`: the JiraClient protocol on the `jira` package (pycontribs), REST API v2.

What it works around in `jira` 3.10 (SPEC §5):
- `JIRA()` calls serverInfo when constructed: it is built lazily, with get_server_info=False,
  and the deployment type read from serverInfo is handed back to it (`deploymentType`),
  because its Cloud-only methods (`enhanced_search_issues`) check that attribute.
- No default timeout: every request carries `timeout`.
- Its session retries 429/503 sleeping up to 60 s a time: that is switched off
  (max_retries=0) and tenacity retries instead, honouring Retry-After within
  `retry_budget_seconds` per operation, failing fast when Retry-After is beyond it.
- `createmeta_issuetypes` refuses Cloud (and any version when serverInfo was skipped),
  `assign_issue` searches users first and `add_remote_link` lists application links first:
  those resources are called directly through the client's session.
- `str(JIRAError)` dumps request and response details: errors are rebuilt from Jira's own
  messages, raised `from None`, so no header or credential can travel in them.
"""

from __future__ import annotations

import contextvars
import email.utils
import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from io import BufferedReader
from typing import IO, Any, TypeVar, cast
from urllib.parse import quote

import requests
from jira import JIRA, JIRAError
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception

from clients.call_observer import CallObserver, NullObserver
from clients.jira_client import (
    FieldMeta,
    IssueType,
    JiraAttachment,
    JiraBadRequest,
    JiraComment,
    JiraError,
    JiraIssue,
    JiraProject,
    JiraUnavailable,
    JiraUser,
    Priority,
    SearchPage,
    ServerInfo,
    Transition,
)
from clients.jira_wire import (
    error_from,
    parse_comment,
    parse_field_meta,
    parse_issue,
    parse_user,
)

T = TypeVar("T")
# Only what JiraIssue needs: Jira's default "*all" can be hundreds of custom fields.
ISSUE_FIELDS = (
    "summary",
    "status",
    "issuetype",
    "project",
    "priority",
    "assignee",
    "reporter",
    "resolution",
    "description",
    "labels",
    "components",
    "created",
    "updated",
    "security",
)
_THROTTLED = (429, 503)
# Connections kept to Jira: one per thread that may call it at once (requests keeps 10).
JIRA_CONNECTIONS = 32
_MAX_ATTEMPTS = 6
_PAGE = 50
# When the running operation must give up retrying (time.monotonic()), per thread/context.
_DEADLINE: contextvars.ContextVar[float] = contextvars.ContextVar("jira_retry_deadline")


class JiraRestClient:
    """Thread-safe. Cloud: `email` + `api_token` (basic auth); Data Center: `pat` (Bearer).

    A person's client (SPEC §12) is a Bearer one too: `pat` is their OAuth access token,
    `base_url` Atlassian's gateway (`…/ex/jira/{cloudid}`), `site_url` the Jira site that issue
    links point at, and `deployment_type` what the bot's client already read from serverInfo.
    """

    def __init__(
        self,
        base_url: str,
        *,
        email: str | None = None,
        api_token: SecretStr | str | None = None,
        pat: SecretStr | str | None = None,
        timeout: float = 10.0,
        retry_budget_seconds: float = 10.0,
        observer: CallObserver | None = None,
        site_url: str | None = None,
        deployment_type: str | None = None,
    ) -> None:
        basic = bool(email) and api_token is not None
        if basic == (pat is not None):
            raise ValueError("Jira credentials: give email and api_token (Cloud) or pat, not both")
        self._base_url = base_url.rstrip("/")
        self._email = email
        self._api_token = _secret(api_token)
        self._pat = _secret(pat)
        self._timeout = timeout
        self._retry_budget = retry_budget_seconds
        self._observer = observer or NullObserver()
        self._lock = threading.Lock()
        self._info_lock = threading.Lock()
        self._jira: JIRA | None = None
        self._site_url = (site_url or base_url).rstrip("/")
        self._info: ServerInfo | None = (
            ServerInfo(self._site_url, deployment_type, "") if deployment_type else None
        )

    def __repr__(self) -> str:
        return f"JiraRestClient({self._base_url!r})"

    def close(self) -> None:
        with self._lock:
            if self._jira is not None:
                self._jira.close()  # type: ignore[no-untyped-call]
                self._jira = None

    # The JiraClient protocol --------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        return self._call("server_info", self._server_info)

    def myself(self) -> JiraUser:
        def run() -> JiraUser:
            user = parse_user(self._retried(self._client().myself))
            if user is None:
                raise JiraUnavailable("Jira did not say who Connect's account is.")
            return user

        return self._call("myself", run)

    def get_issue(self, key: str) -> JiraIssue:
        return self._call("get_issue", lambda: self._fetch_issue(key))

    def search(
        self,
        jql: str,
        *,
        max_results: int = 50,
        page_token: str | None = None,
        with_comments: bool = False,
        with_changelog: bool = False,
    ) -> SearchPage:
        return self._call(
            "search",
            lambda: self._search(jql, max_results, page_token, with_comments, with_changelog),
        )

    def projects(self) -> list[JiraProject]:
        def run() -> list[JiraProject]:
            raw = [p.raw for p in self._retried(self._client().projects)]
            return [JiraProject(str(p["id"]), str(p["key"]), str(p.get("name", ""))) for p in raw]

        return self._call("projects", run)

    def issue_types(self, project_key: str) -> list[IssueType]:
        def run() -> list[IssueType]:
            path = f"issue/createmeta/{_quoted(project_key)}/issuetypes"
            return [
                IssueType(str(t["id"]), str(t.get("name", "")), bool(t.get("subtask", False)))
                for t in self._paged(path, ("issueTypes", "createMetaIssueType", "values"))
            ]

        return self._call("issue_types", run)

    def create_fields(self, project_key: str, issue_type_id: str) -> list[FieldMeta]:
        def run() -> list[FieldMeta]:
            path = f"issue/createmeta/{_quoted(project_key)}/issuetypes/{_quoted(issue_type_id)}"
            return [parse_field_meta(f) for f in self._paged(path, ("fields", "values", "results"))]

        return self._call("create_fields", run)

    def priorities(self) -> list[Priority]:
        def run() -> list[Priority]:
            raw = [p.raw for p in self._retried(self._client().priorities)]
            return [Priority(str(p["id"]), str(p.get("name", ""))) for p in raw]

        return self._call("priorities", run)

    def create_issue(self, fields: Mapping[str, Any]) -> JiraIssue:
        def run() -> JiraIssue:
            jira = self._client()
            # Two retried steps: a retry of the whole would create the issue twice.
            created = self._retried(jira.create_issue, fields=dict(fields), prefetch=False)
            return self._fetch_issue(str(created.key))

        return self._call("create_issue", run)

    def transitions(self, key: str) -> list[Transition]:
        def run() -> list[Transition]:
            raw = self._retried(self._client().transitions, _quoted(key))
            return [
                Transition(
                    str(t["id"]), str(t.get("name", "")), str(t.get("to", {}).get("name", ""))
                )
                for t in raw
            ]

        return self._call("transitions", run)

    def transition_issue(self, key: str, transition_id: str) -> None:
        body = {"transition": {"id": str(transition_id)}}
        self._call(
            "transition_issue",
            lambda: self._rest("POST", f"issue/{_quoted(key)}/transitions", body=body),
        )

    def assign_issue(self, key: str, account_id: str | None) -> None:
        def run() -> None:
            # Cloud names people by accountId, Data Center by user name.
            body = {"accountId" if self._server_info().is_cloud else "name": account_id}
            self._rest("PUT", f"issue/{_quoted(key)}/assignee", body=body)

        self._call("assign_issue", run)

    def add_comment(self, key: str, body: str) -> JiraComment:
        def run() -> JiraComment:
            return parse_comment(self._retried(self._client().add_comment, _quoted(key), body).raw)

        return self._call("add_comment", run)

    def add_attachment(self, key: str, filename: str, content: IO[bytes]) -> JiraAttachment:
        def run() -> JiraAttachment:
            # The `jira` package streams the file in a multipart body (requests_toolbelt) and
            # sends `X-Atlassian-Token: no-check`, which Jira's attachments resource requires.
            attached = self._client().add_attachment(
                _quoted(key), attachment=cast(BufferedReader, content), filename=filename
            )
            raw = attached.raw or {}
            return JiraAttachment(
                str(raw.get("id", "")), str(raw.get("filename", filename)), int(raw.get("size", 0))
            )

        return self._call("add_attachment", run)

    def issue_comments(self, key: str) -> list[JiraComment]:
        def run() -> list[JiraComment]:
            raw = self._paged(f"issue/{_quoted(key)}/comment", ("comments",))
            return [parse_comment(item) for item in raw]

        return self._call("issue_comments", run)

    def update_comment(self, key: str, comment_id: str, body: str) -> JiraComment:
        path = f"issue/{_quoted(key)}/comment/{_quoted(comment_id)}"
        return self._call(
            "update_comment",
            lambda: parse_comment(self._rest("PUT", path, body={"body": body}) or {}),
        )

    def delete_comment(self, key: str, comment_id: str) -> None:
        path = f"issue/{_quoted(key)}/comment/{_quoted(comment_id)}"
        self._call("delete_comment", lambda: self._rest("DELETE", path))

    def upsert_remote_link(
        self, key: str, *, global_id: str, url: str, title: str, summary: str | None = None
    ) -> None:
        link: dict[str, Any] = {"url": url, "title": title}
        if summary:
            link["summary"] = summary
        body = {"globalId": global_id, "object": link}
        self._call(
            "upsert_remote_link",
            lambda: self._rest("POST", f"issue/{_quoted(key)}/remotelink", body=body),
        )

    def find_users_by_email(self, email: str) -> list[JiraUser]:
        def run() -> list[JiraUser]:
            jira = self._client()
            if self._server_info().is_cloud:
                found = self._retried(jira.search_users, query=email, maxResults=_PAGE)
            else:
                found = self._retried(jira.search_users, user=email, maxResults=_PAGE)
            users = [u for u in (parse_user(item.raw) for item in found) if u is not None]
            wanted = email.strip().casefold()
            # The search is fuzzy (prefixes, names) and may match a hidden address: only an
            # account that shows this very e-mail is its owner (SPEC §11).
            return [u for u in users if u.email and u.email.strip().casefold() == wanted]

        return self._call("find_users_by_email", run)

    def watchers(self, key: str) -> list[JiraUser]:
        def run() -> list[JiraUser]:
            raw = self._rest("GET", f"issue/{_quoted(key)}/watchers") or {}
            found = raw.get("watchers") if isinstance(raw, dict) else None
            users = (parse_user(item) for item in found or [])
            return [user for user in users if user is not None]

        return self._call("watchers", run)

    # Plumbing -------------------------------------------------------------------------------

    def _client(self) -> JIRA:
        with self._lock:
            if self._jira is None:
                if self._pat is not None:
                    self._jira = JIRA(
                        server=self._base_url,
                        token_auth=self._pat.get_secret_value(),
                        get_server_info=False,
                        timeout=self._timeout,
                        max_retries=0,
                    )
                else:
                    token = self._api_token.get_secret_value() if self._api_token else ""
                    self._jira = JIRA(
                        server=self._base_url,
                        basic_auth=(self._email or "", token),
                        get_server_info=False,
                        timeout=self._timeout,
                        max_retries=0,
                    )
                _tune_session(self._jira._session, self._base_url)
                if self._info is not None:  # known already: read by @cloud_api checks
                    self._jira.deploymentType = self._info.deployment_type
            return self._jira

    def _server_info(self) -> ServerInfo:
        with self._info_lock:
            if self._info is None:
                jira = self._client()
                raw = self._retried(jira.server_info)
                deployment = str(raw.get("deploymentType") or "Server")
                jira.deploymentType = deployment  # read by the package's @cloud_api checks
                self._info = ServerInfo(
                    base_url=str(raw.get("baseUrl") or self._base_url),
                    deployment_type=deployment,
                    version=str(raw.get("version", "")),
                )
            return self._info

    def _call(self, operation: str, run: Callable[[], T]) -> T:
        """Runs one operation: one retry budget, errors mapped, the observer told."""
        started = time.monotonic()
        outcome = "ok"
        token = _DEADLINE.set(started + self._retry_budget)
        try:
            return run()
        except JiraError as known:
            outcome = type(known).__name__
            raise
        except (JIRAError, requests.RequestException, ValueError, KeyError) as exc:
            error = error_from(exc)
            outcome = type(error).__name__
            raise error from None  # the original may carry request details
        finally:
            _DEADLINE.reset(token)
            self._observer.record("jira", operation, outcome, time.monotonic() - started)

    def _retried(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        deadline = _DEADLINE.get(time.monotonic() + self._retry_budget)

        def give_up(state: RetryCallState) -> bool:
            late = time.monotonic() + state.upcoming_sleep >= deadline
            return late or state.attempt_number >= _MAX_ATTEMPTS

        retrying = Retrying(
            retry=retry_if_exception(_throttled), wait=_retry_after, stop=give_up, reraise=True
        )
        return retrying(fn, *args, **kwargs)

    def _rest(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        """One REST v2 resource through the client's session (which raises JIRAError)."""
        session = self._client()._session
        url = f"{self._base_url}/rest/api/2/{path}"
        data = None if body is None else json.dumps(body)
        response = self._retried(session.request, method, url, params=params, data=data)
        return response.json() if response.content else None

    def _paged(self, path: str, item_keys: tuple[str, ...]) -> list[dict[str, Any]]:
        """Every item of a startAt-paged resource; Cloud and Data Center name the list apart."""
        items: list[dict[str, Any]] = []
        while True:
            page = self._rest("GET", path, params={"startAt": len(items), "maxResults": _PAGE})
            values: list[dict[str, Any]] = next((page[k] for k in item_keys if k in page), [])
            items += values
            total = page.get("total")
            last = page.get("isLast", total is None and len(values) < _PAGE)
            if not values or last or (total is not None and len(items) >= total):
                return items

    def _fetch_issue(self, key: str) -> JiraIssue:
        raw = self._retried(self._client().issue, _quoted(key), fields=",".join(ISSUE_FIELDS)).raw
        return parse_issue(raw or {}, self._site_url)

    def _search(
        self,
        jql: str,
        max_results: int,
        page_token: str | None,
        with_comments: bool,
        with_changelog: bool,
    ) -> SearchPage:
        jira = self._client()
        fields = [*ISSUE_FIELDS, "comment"] if with_comments else list(ISSUE_FIELDS)
        expand = "changelog" if with_changelog else None
        raw: dict[str, Any]
        if self._server_info().is_cloud:
            raw = self._retried(  # json_result=True: the raw page, nextPageToken included
                jira.enhanced_search_issues,
                jql,
                nextPageToken=page_token,
                maxResults=max_results,
                fields=fields,
                expand=expand,
                json_result=True,
            )
            token = None if raw.get("isLast") else raw.get("nextPageToken")
        else:
            if page_token is not None and not page_token.isdigit():
                raise JiraBadRequest("The page token is not valid for this Jira site.")
            start = int(page_token or 0)
            raw = self._retried(
                jira.search_issues,
                jql,
                startAt=start,
                maxResults=max_results,
                fields=fields,
                expand=expand,
                json_result=True,
            )
            end = start + len(raw.get("issues", []))
            token = str(end) if raw.get("issues") and end < int(raw.get("total", 0)) else None
        issues = tuple(parse_issue(item, self._site_url) for item in raw.get("issues", []))
        return SearchPage(issues, str(token) if token else None)


def _secret(value: SecretStr | str | None) -> SecretStr | None:
    return SecretStr(value) if isinstance(value, str) else value


def _quoted(key: str) -> str:
    return quote(key.strip(), safe="")  # a key from Slack must not reach another resource


def _throttled(exc: BaseException) -> bool:
    return isinstance(exc, JIRAError) and exc.status_code in _THROTTLED


def _retry_after(state: RetryCallState) -> float:
    """Seconds to wait: Retry-After (seconds or HTTP date), else exponential from 0.5 s."""
    exc = state.outcome.exception() if state.outcome else None
    fallback: float = min(0.5 * 2.0 ** (state.attempt_number - 1), 8.0)
    response = getattr(exc, "response", None)
    header = str(response.headers.get("Retry-After") or "") if response is not None else ""
    if not header:
        return fallback
    if header.strip().isdigit():
        return max(float(header), 0.1)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return fallback
    return max((when - datetime.now(UTC)).total_seconds(), 0.1)


def _tune_session(session: requests.Session, url: str) -> None:
    """The jira package's session keeping a connection for each thread that may call Jira at
    once (requests keeps 10 and drops the rest after each call), and the environment read once.

    What requests looks up in the environment before every request (the proxies for this
    URL, honouring no_proxy, and REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE), looked up once: the Jira
    site is fixed, and the lookup scans the whole environment each time (about a tenth of a
    Jira call's CPU). Auth is explicit, so ~/.netrc, the other thing trust_env reads, was never
    used."""
    for scheme in ("https://", "http://"):
        session.mount(scheme, HTTPAdapter(pool_maxsize=JIRA_CONNECTIONS))
    settings = session.merge_environment_settings(url, {}, None, session.verify, session.cert)
    session.trust_env = False
    session.proxies = settings["proxies"]
    session.verify = settings["verify"]
    session.cert = settings["cert"]
