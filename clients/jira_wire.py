"""Jira REST API v2 on the wire: JSON answers into Connect's types, HTTP failures into
JiraError built only from Jira's own messages (never from request details)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests
from jira import JIRAError

from clients.jira_client import (
    FieldMeta,
    JiraAuthError,
    JiraBadRequest,
    JiraComment,
    JiraError,
    JiraFieldErrors,
    JiraHistory,
    JiraIssue,
    JiraNotFound,
    JiraTimeout,
    JiraUnavailable,
    JiraUser,
)


def error_from(exc: Exception) -> JiraError:
    if isinstance(exc, requests.Timeout):
        return JiraTimeout("Jira did not answer in time.")
    if isinstance(exc, requests.ConnectionError):
        return JiraUnavailable("Jira could not be reached.")
    if isinstance(exc, requests.RequestException):
        return JiraUnavailable("The request to Jira failed.")
    if isinstance(exc, JIRAError):
        return _from_status(exc.status_code, exc.response)
    return JiraUnavailable("Jira sent an answer Connect could not read.")


def _from_status(status: int | None, response: requests.Response | None) -> JiraError:
    messages, errors = _jira_messages(response)
    text = "; ".join(messages + list(errors.values()))
    if status == 400:
        if errors:
            return JiraFieldErrors(errors, messages)
        return JiraBadRequest(text or "Jira rejected the request.")
    if status == 401:
        return JiraAuthError("Jira rejected Connect's credentials.", status=401)
    if status == 403:
        return JiraAuthError(f"Connect's Jira account may not do this. {text}".strip(), status=403)
    if status == 404:
        return JiraNotFound(text or "Not found in Jira.", status=404)
    if status == 429:
        return JiraUnavailable(
            "Jira is limiting Connect's requests; try again shortly.", status=429
        )
    if status is None or status >= 500:
        return JiraUnavailable(f"Jira is unavailable (HTTP {status or 'error'}).", status=status)
    return JiraError(f"Jira answered HTTP {status}. {text}".strip(), status=status)


def _jira_messages(response: requests.Response | None) -> tuple[list[str], dict[str, str]]:
    """Jira's own `errorMessages` and per-field `errors` from an error body."""
    try:
        body = response.json() if response is not None and response.content else {}
    except ValueError:
        return [], {}
    if not isinstance(body, dict):
        return [], {}
    messages = [str(m) for m in body.get("errorMessages") or []]
    errors = body.get("errors") or {}
    if not isinstance(errors, dict):
        errors = {}
    return messages, {str(k): str(v) for k, v in errors.items()}


def parse_when(value: Any) -> datetime | None:
    """Jira's timestamps, e.g. 2024-01-15T10:30:00.000+0000."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_user(raw: Any) -> JiraUser | None:
    if not isinstance(raw, Mapping):
        return None
    account = raw.get("accountId") or raw.get("name") or raw.get("key")  # Cloud, then DC
    if not account:
        return None
    return JiraUser(
        account_id=str(account),
        display_name=str(raw.get("displayName") or account),
        email=raw.get("emailAddress") or None,
        active=bool(raw.get("active", True)),
    )


def _name(raw: Any) -> str | None:
    return str(raw["name"]) if isinstance(raw, Mapping) and raw.get("name") else None


def parse_issue(raw: Mapping[str, Any], base_url: str) -> JiraIssue:
    fields: Mapping[str, Any] = raw.get("fields") or {}
    status: Mapping[str, Any] = fields.get("status") or {}
    key = str(raw.get("key", ""))
    return JiraIssue(
        id=str(raw.get("id", "")),
        key=key,
        url=f"{base_url}/browse/{key}",
        summary=str(fields.get("summary") or ""),
        status=str(status.get("name", "")),
        status_category=str((status.get("statusCategory") or {}).get("key", "")),
        issue_type=_name(fields.get("issuetype")) or "",
        project_key=str((fields.get("project") or {}).get("key", key.rsplit("-", 1)[0])),
        priority=_name(fields.get("priority")),
        assignee=parse_user(fields.get("assignee")),
        reporter=parse_user(fields.get("reporter")),
        resolution=_name(fields.get("resolution")),
        description=fields.get("description")
        if isinstance(fields.get("description"), str)
        else None,
        labels=tuple(str(label) for label in fields.get("labels") or ()),
        components=tuple(n for n in (_name(c) for c in fields.get("components") or ()) if n),
        created=parse_when(fields.get("created")),
        updated=parse_when(fields.get("updated")),
        security=_name(fields.get("security")),
        comments=parse_comments(fields.get("comment")),
        history=parse_histories(raw.get("changelog")),
    )


def parse_histories(raw: Any) -> tuple[JiraHistory, ...]:
    """An issue's expanded `changelog`: `{"histories": [{"author", "created", "items"}], ...}`."""
    histories = raw.get("histories") if isinstance(raw, Mapping) else None
    if not isinstance(histories, list):
        return ()
    parsed = []
    for entry in histories:
        if not isinstance(entry, Mapping):
            continue
        items = entry.get("items")
        fields = tuple(
            str(item.get("fieldId") or item.get("field")).lower()
            for item in (items if isinstance(items, list) else ())
            if isinstance(item, Mapping)
            and (item.get("fieldId") or item.get("field"))
            and item.get("fieldtype") != "custom"
        )
        parsed.append(
            JiraHistory(parse_user(entry.get("author")), parse_when(entry.get("created")), fields)
        )
    return tuple(parsed)


def parse_comment(raw: Mapping[str, Any]) -> JiraComment:
    return JiraComment(
        id=str(raw.get("id", "")),
        body=str(raw.get("body") or ""),
        author=parse_user(raw.get("author")),
        created=parse_when(raw.get("created")),
        updated=parse_when(raw.get("updated")),
        visibility=parse_visibility(raw.get("visibility")),
    )


def parse_visibility(raw: Any) -> tuple[str, str] | None:
    """A comment's `{"type": "role"|"group", "value": name}`; None when anyone may read it."""
    if not isinstance(raw, Mapping):
        return None
    value = raw.get("value") or raw.get("identifier")
    if not value:
        return None
    return str(raw.get("type") or "role"), str(value)


def parse_comments(raw: Any) -> tuple[JiraComment, ...]:
    """The `comment` field of an issue: a page `{"comments": [...], "total": n, ...}`."""
    items = raw.get("comments") if isinstance(raw, Mapping) else None
    if not isinstance(items, list):
        return ()
    return tuple(parse_comment(item) for item in items if isinstance(item, Mapping))


def parse_field_meta(raw: Mapping[str, Any]) -> FieldMeta:
    allowed = tuple(
        (str(v.get("id", "")), str(v.get("name") or v.get("value") or v.get("key") or ""))
        for v in raw.get("allowedValues") or ()
        if isinstance(v, Mapping)
    )
    return FieldMeta(
        field_id=str(raw.get("fieldId") or raw.get("key") or ""),
        name=str(raw.get("name", "")),
        required=bool(raw.get("required", False)),
        schema_type=str((raw.get("schema") or {}).get("type", "")),
        allowed_values=allowed,
        has_default=bool(raw.get("hasDefaultValue", False)),
    )
