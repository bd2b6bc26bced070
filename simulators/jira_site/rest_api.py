"""Jira REST API v2, as much of it as Connect uses, translated onto an `InMemoryJira`.

Answers have the shapes Jira Cloud or Data Center give (users by `accountId` or by `name`,
createmeta lists under `issueTypes`/`fields` or `values`, `/search/jql` on Cloud and
`/search` on Data Center, where each answers 410/404 on the other kind), so that
`JiraRestClient` is tested against the wire format rather than against itself.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clients.jira_client import (
    FieldMeta,
    JiraAuthError,
    JiraBadRequest,
    JiraComment,
    JiraError,
    JiraFieldErrors,
    JiraIssue,
    JiraNotFound,
    JiraUnavailable,
    JiraUser,
)
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.model import CATEGORY_NAMES, STATUSES

API = r"/rest/api/(?:2|latest)"
SEARCH_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
SYSTEM_FIELDS = (
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
    "comment",
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)  # names title-cased

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def number(self, name: str, default: int) -> int:
        value = self.arg(name)
        return int(value) if value and value.lstrip("-").isdigit() else default


Answer = tuple[int, Any]


class FakeJiraApi:
    def __init__(self, jira: InMemoryJira, deployment_type: str, base_url: str) -> None:
        self.jira = jira
        self.deployment_type = deployment_type
        self.base_url = base_url
        self.page_size = 50  # createmeta pages; lower it to exercise the client's paging
        # Accounts whose e-mail their privacy setting hides (Cloud answers no emailAddress).
        self.hidden_emails: set[str] = set()
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = [
            (m, re.compile(f"{API}/{p}$"), f)
            for m, p, f in (
                ("GET", "serverInfo", self.server_info),
                ("GET", "myself", lambda r: (200, self.user(self.jira.myself()))),
                ("GET", "field", self.fields),
                ("GET", "project", self.projects),
                ("GET", "priority", self.priorities),
                ("GET|POST", "search/jql", self.search_jql),
                ("GET|POST", "search", self.search),
                ("GET", "issue/createmeta/(?P<project>[^/]+)/issuetypes", self.issue_types),
                (
                    "GET",
                    "issue/createmeta/(?P<project>[^/]+)/issuetypes/(?P<type>[^/]+)",
                    self.metas,
                ),
                ("POST", "issue", self.create_issue),
                ("GET", "issue/(?P<key>[^/]+)", self.get_issue),
                ("GET", "issue/(?P<key>[^/]+)/transitions", self.transitions),
                ("POST", "issue/(?P<key>[^/]+)/transitions", self.transition),
                ("PUT", "issue/(?P<key>[^/]+)/assignee", self.assign),
                ("POST", "issue/(?P<key>[^/]+)/comment", self.comment),
                ("GET", "issue/(?P<key>[^/]+)/comment", self.comments),
                ("POST", "issue/(?P<key>[^/]+)/attachments", self.attach),
                ("PUT", "issue/(?P<key>[^/]+)/comment/(?P<comment_id>[^/]+)", self.edit_comment),
                (
                    "DELETE",
                    "issue/(?P<key>[^/]+)/comment/(?P<comment_id>[^/]+)",
                    self.delete_comment,
                ),
                ("GET", "issue/(?P<key>[^/]+)/remotelink", self.remote_links),
                ("GET|POST", "issue/(?P<key>[^/]+)/watchers", self.watchers),
                ("POST", "issue/(?P<key>[^/]+)/remotelink", self.remote_link),
                ("GET", "user/search", self.user_search),
            )
        ]

    @property
    def cloud(self) -> bool:
        return self.deployment_type == "Cloud"

    def handle(self, request: Request) -> Answer:
        for methods, pattern, route in self._routes:
            match = pattern.match(request.path)
            if match and request.method in methods.split("|"):
                try:
                    return route(request, **match.groupdict())
                except JiraError as error:
                    return _error_answer(error)
        return 404, {"errorMessages": [f"No resource at {request.path}"], "errors": {}}

    # -- JSON shapes ----------------------------------------------------------------------------

    def user(self, user: JiraUser | None) -> dict[str, Any] | None:
        if user is None:
            return None
        raw: dict[str, Any] = {"displayName": user.display_name, "active": user.active}
        if user.email and user.account_id not in self.hidden_emails:
            raw["emailAddress"] = user.email
        param = "accountId" if self.cloud else "username"
        raw["self"] = f"{self.base_url}/rest/api/2/user?{param}={user.account_id}"
        if self.cloud:
            raw.update(accountId=user.account_id, accountType="atlassian")
        else:
            raw.update(name=user.account_id, key=user.account_id)
        return raw

    def issue(
        self, issue: JiraIssue, fields: set[str] | None = None, *, changelog: bool = False
    ) -> dict[str, Any]:
        category = issue.status_category
        raw: dict[str, Any] = {
            "summary": issue.summary,
            "status": {
                "name": issue.status,
                "statusCategory": {"key": category, "name": CATEGORY_NAMES[category]},
            },
            "issuetype": {"name": issue.issue_type},
            "project": {"key": issue.project_key},
            "priority": {"name": issue.priority} if issue.priority else None,
            "assignee": self.user(issue.assignee),
            "reporter": self.user(issue.reporter),
            "resolution": {"name": issue.resolution} if issue.resolution else None,
            "description": issue.description,
            "labels": list(issue.labels),
            "components": [{"name": name} for name in issue.components],
            "created": _timestamp(issue.created),
            "updated": _timestamp(issue.updated),
            "security": {"id": "10100", "name": issue.security} if issue.security else None,
        }
        if fields is None or fields & {"comment", "*all"}:
            comments = issue.comments or tuple(self.jira.comments(issue.key))
            page = [self.comment_json(issue.key, c) for c in comments]
            raw["comment"] = {
                "comments": page,
                "startAt": 0,
                "maxResults": len(page),
                "total": len(page),
            }
        if fields is not None and "*all" not in fields:
            raw = {name: value for name, value in raw.items() if name in fields}
        answer = {
            "id": issue.id,
            "key": issue.key,
            "self": f"{self.base_url}/rest/api/2/issue/{issue.id}",
            "fields": raw,
        }
        if changelog:  # expand=changelog: Cloud gives the latest entries first, DC the oldest
            entries = list(enumerate(issue.history or self.jira.history(issue.key), start=1))
            histories = [
                {
                    "id": f"{issue.id}{number:04d}",
                    "author": self.user(entry.author),
                    "created": _timestamp(entry.created),
                    "items": [
                        {
                            "field": name,
                            "fieldtype": "jira",
                            "fieldId": name,
                            "from": None,
                            "fromString": None,
                            "to": None,
                            "toString": None,
                        }
                        for name in entry.fields
                    ],
                }
                for number, entry in (reversed(entries) if self.cloud else entries)
            ]
            answer["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(histories),
                "histories": histories,
            }
        return answer

    def comment_json(self, key: str, comment: JiraComment) -> dict[str, Any]:
        visibility = {}
        if comment.visibility is not None:
            kind, value = comment.visibility
            visibility["visibility"] = {"type": kind, "value": value}
        return {
            **visibility,
            "id": comment.id,
            "self": f"{self.base_url}/rest/api/2/issue/{key}/comment/{comment.id}",
            "body": comment.body,
            "author": self.user(comment.author),
            "updateAuthor": self.user(comment.author),
            "created": _timestamp(comment.created),
            "updated": _timestamp(comment.updated),
        }

    def field_meta(self, meta: FieldMeta) -> dict[str, Any]:
        label = "value" if meta.schema_type == "option" else "name"
        raw: dict[str, Any] = {
            "required": meta.required,
            "schema": {"type": meta.schema_type},
            "name": meta.name,
            "fieldId": meta.field_id,
            "key": meta.field_id,
            "hasDefaultValue": meta.has_default,
            "operations": ["set"],
        }
        if meta.allowed_values:
            raw["allowedValues"] = [{"id": i, label: name} for i, name in meta.allowed_values]
        return raw

    # -- routes ---------------------------------------------------------------------------------

    def server_info(self, request: Request) -> Answer:
        version = "1001.0.0-SNAPSHOT" if self.cloud else "9.12.0"
        return 200, {
            "baseUrl": self.base_url,
            "version": version,
            "versionNumbers": [int(n) for n in version.split("-")[0].split(".")],
            "deploymentType": self.deployment_type,
            "buildNumber": 100_000,
            "serverTitle": "Fake Jira",
        }

    def fields(self, request: Request) -> Answer:
        return 200, [
            {"id": name, "key": name, "name": name.title(), "custom": False, "clauseNames": [name]}
            for name in SYSTEM_FIELDS
        ]

    def projects(self, request: Request) -> Answer:
        return 200, [
            {"id": p.id, "key": p.key, "name": p.name, "self": f"{self.base_url}/project/{p.id}"}
            for p in self.jira.projects()
        ]

    def priorities(self, request: Request) -> Answer:
        return 200, [{"id": p.id, "name": p.name} for p in self.jira.priorities()]

    def search_jql(self, request: Request) -> Answer:
        if not self.cloud:
            return 404, {"errorMessages": ["null for uri: /rest/api/2/search/jql"], "errors": {}}
        params = self._search_params(request)
        page = self.jira.search(
            params["jql"],
            max_results=params["maxResults"],
            page_token=params["nextPageToken"],
            with_comments="comment" in (params["fields"] or ()),
            with_changelog=params["changelog"],
        )
        answer: dict[str, Any] = {
            "issues": [
                self.issue(i, params["fields"], changelog=params["changelog"]) for i in page.issues
            ],
            "isLast": page.next_page_token is None,
        }
        if page.next_page_token:  # Jira Cloud leaves the key out on the last page
            answer["nextPageToken"] = page.next_page_token
        return 200, answer

    def search(self, request: Request) -> Answer:
        if self.cloud:
            return 410, {"errorMessages": [SEARCH_GONE], "errors": {}}
        params = self._search_params(request)
        found = self.jira.search_all(params["jql"])
        start, size = int(params["startAt"] or 0), params["maxResults"]
        return 200, {
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": [
                self.issue(i, params["fields"], changelog=params["changelog"])
                for i in found[start : start + size]
            ],
        }

    def issue_types(self, request: Request, project: str) -> Answer:
        types = [
            {"id": t.id, "name": t.name, "subtask": t.subtask}
            for t in self.jira.issue_types(project)
        ]
        return 200, self._page(request, types, "issueTypes")

    def metas(self, request: Request, project: str, type: str) -> Answer:
        metas = [self.field_meta(m) for m in self.jira.create_fields(project, type)]
        return 200, self._page(request, metas, "fields")

    def create_issue(self, request: Request) -> Answer:
        fields = (request.body or {}).get("fields") or {}
        issue = self.jira.create_issue(fields)
        return 201, {"id": issue.id, "key": issue.key, "self": f"{self.base_url}/issue/{issue.id}"}

    def get_issue(self, request: Request, key: str) -> Answer:
        fields = ",".join(request.query.get("fields", [])).split(",")
        wanted = {f for f in fields if f} or None
        return 200, self.issue(self.jira.get_issue(key), wanted)

    def transitions(self, request: Request, key: str) -> Answer:
        return 200, {
            "transitions": [
                {
                    "id": t.id,
                    "name": t.name,
                    "to": {
                        "name": t.to_status,
                        "statusCategory": {"key": STATUSES[t.to_status]},
                    },
                }
                for t in self.jira.transitions(key)
            ]
        }

    def transition(self, request: Request, key: str) -> Answer:
        transition_id = ((request.body or {}).get("transition") or {}).get("id")
        if transition_id is None:
            raise JiraBadRequest("Missing 'transition' identifier")
        self.jira.transition_issue(key, str(transition_id))
        return 204, None

    def assign(self, request: Request, key: str) -> Answer:
        body = request.body or {}
        field = "accountId" if self.cloud else "name"  # Cloud refuses user names (GDPR)
        if field not in body:
            raise JiraFieldErrors({field: f"Specify the assignee by '{field}'."})
        self.jira.assign_issue(key, body[field])
        return 204, None

    def comment(self, request: Request, key: str) -> Answer:
        created = self.jira.add_comment(key, str((request.body or {}).get("body") or ""))
        return 201, self.comment_json(key, created)

    def attach(self, request: Request, key: str) -> Answer:
        """Jira's attachments resource: multipart `file` parts, and an XSRF header or a 403."""
        if request.headers.get("X-Atlassian-Token") != "no-check":
            return 403, "XSRF check failed"
        files = request.body.get("files") if isinstance(request.body, dict) else None
        if not files:
            raise JiraBadRequest("No file to attach: send multipart/form-data with 'file'.")
        attached = [self.jira.add_attachment(key, name, io.BytesIO(data)) for name, data in files]
        return 200, [
            {
                "id": a.id,
                "filename": a.filename,
                "size": a.size,
                "self": f"{self.base_url}/rest/api/2/attachment/{a.id}",
            }
            for a in attached
        ]

    def comments(self, request: Request, key: str) -> Answer:
        found = [self.comment_json(key, c) for c in self.jira.issue_comments(key)]
        start = request.number("startAt", 0)
        size = request.number("maxResults", 50)
        page = found[start : start + size]
        return 200, {"startAt": start, "maxResults": size, "total": len(found), "comments": page}

    def edit_comment(self, request: Request, key: str, comment_id: str) -> Answer:
        body = str((request.body or {}).get("body") or "")
        return 200, self.comment_json(key, self.jira.update_comment(key, comment_id, body))

    def delete_comment(self, request: Request, key: str, comment_id: str) -> Answer:
        self.jira.delete_comment(key, comment_id)
        return 204, None

    def remote_links(self, request: Request, key: str) -> Answer:
        return 200, [
            {
                "id": int(link.id),
                "globalId": link.global_id,
                "object": {"url": link.url, "title": link.title, "summary": link.summary},
            }
            for link in self.jira.remote_links(key)
        ]

    def remote_link(self, request: Request, key: str) -> Answer:
        body = request.body or {}
        link = body.get("object") or {}
        global_id = str(body.get("globalId") or "")
        existed = any(x.global_id == global_id for x in self.jira.remote_links(key))
        self.jira.upsert_remote_link(
            key,
            global_id=global_id,
            url=str(link.get("url") or ""),
            title=str(link.get("title") or ""),
            summary=link.get("summary"),
        )
        stored = next(x for x in self.jira.remote_links(key) if x.global_id == global_id)
        self_url = f"{self.base_url}/rest/api/2/issue/{key}/remotelink/{stored.id}"
        return (200 if existed else 201), {"id": int(stored.id), "self": self_url}

    def watchers(self, request: Request, key: str) -> Answer:
        if request.method == "POST":  # the body is the account id (Cloud) or user name (DC)
            who = request.body
            if not isinstance(who, str) or not who:
                return 400, {"errorMessages": ["Give the user to add as a JSON string."]}
            try:
                self.jira.add_watcher(key, who)
            except KeyError:
                return 404, {"errorMessages": [f"The user {who} does not exist."], "errors": {}}
            return 204, None
        found = self.jira.watchers(key)
        return 200, {
            "self": f"{self.base_url}/rest/api/2/issue/{key}/watchers",
            "isWatching": False,
            "watchCount": len(found),
            "watchers": [self.user(user) for user in found],
        }

    def user_search(self, request: Request) -> Answer:
        name = "query" if self.cloud else "username"
        wanted = (request.arg(name) or "").casefold()
        if not wanted:
            message = f"The '{name}' query parameter is required."
            return 400, {"errorMessages": [message], "errors": {}}
        found = [
            u
            for u in self.jira.users()
            if u.active
            and any(wanted in (v or "").casefold() for v in (u.email, u.display_name, u.account_id))
        ]
        return 200, [self.user(u) for u in found[: request.number("maxResults", 50)]]

    # -- helpers --------------------------------------------------------------------------------

    def _search_params(self, request: Request) -> dict[str, Any]:
        body = request.body if isinstance(request.body, dict) else {}
        fields_raw = body.get("fields") or ",".join(request.query.get("fields", [])).split(",")
        fields = {f for f in fields_raw if f} or None
        return {
            "jql": str(body.get("jql") or request.arg("jql", "")),
            "maxResults": int(body.get("maxResults") or request.number("maxResults", 50)),
            "nextPageToken": body.get("nextPageToken") or request.arg("nextPageToken"),
            "startAt": body.get("startAt") or request.arg("startAt"),
            "fields": fields,
            "changelog": "changelog" in str(body.get("expand") or request.arg("expand", "")),
        }

    def _page(self, request: Request, items: list[dict[str, Any]], cloud_key: str) -> Any:
        start = request.number("startAt", 0)
        size = min(request.number("maxResults", 50), self.page_size)
        page = items[start : start + size]
        answer: dict[str, Any] = {"startAt": start, "maxResults": size, "total": len(items)}
        if self.cloud:
            answer[cloud_key] = page
        else:
            answer.update(values=page, isLast=start + size >= len(items))
        return answer


def _timestamp(when: datetime | None) -> str | None:
    if when is None:
        return None
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def _error_answer(error: JiraError) -> Answer:
    if isinstance(error, JiraFieldErrors):
        return 400, {"errorMessages": error.messages, "errors": error.errors}
    status = 400 if isinstance(error, JiraBadRequest) else 500
    if isinstance(error, JiraNotFound):
        status = 404
    elif isinstance(error, JiraAuthError):
        status = error.status or 403
    elif isinstance(error, JiraUnavailable):
        status = error.status or 503
    return status, {"errorMessages": [error.message], "errors": {}}
