"""Jira's side of webhooks for the in-memory Jira: its changes as Cloud or Data Center payloads.

Used by the tests and the offline demo, so that changes made "in Jira" reach Connect the way a
real site's would: as HTTP deliveries to /jira/webhook, with a changelog per operation.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from clients.jira_client import JiraComment, JiraIssue, JiraUser
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.model import IssueChange

log = logging.getLogger(__name__)

Payload = dict[str, Any]
# InMemoryJira field names → the changelog's `field` (Jira's spelling, case included).
CHANGELOG_FIELDS = {
    "status": "status",
    "assignee": "assignee",
    "priority": "priority",
    "resolution": "resolution",
    "summary": "summary",
    "key": "Key",
    "project_key": "project",
    "description": "description",
    "labels": "labels",
}


def jira_time(moment: datetime | None) -> str | None:
    """Jira's own format, milliseconds included: 2026-11-26T08:06:10.123+0000."""
    if moment is None:
        return None
    millis = f"{moment.microsecond // 1000:03d}"
    return moment.strftime(f"%Y-%m-%dT%H:%M:%S.{millis}%z")


def user_json(user: JiraUser | None, *, cloud: bool) -> Payload | None:
    if user is None:
        return None
    identity = (
        {"accountId": user.account_id}
        if cloud
        else {"name": user.account_id, "key": user.account_id}
    )
    return {
        **identity,
        "displayName": user.display_name,
        "emailAddress": user.email,
        "active": user.active,
    }


def issue_json(issue: JiraIssue, *, cloud: bool) -> Payload:
    return {
        "id": issue.id,
        "key": issue.key,
        "self": issue.url.replace("/browse/", "/rest/api/2/issue/"),
        "fields": {
            "summary": issue.summary,
            "status": {"name": issue.status, "statusCategory": {"key": issue.status_category}},
            "issuetype": {"name": issue.issue_type},
            "project": {"key": issue.project_key},
            "priority": {"name": issue.priority} if issue.priority else None,
            "assignee": user_json(issue.assignee, cloud=cloud),
            "reporter": user_json(issue.reporter, cloud=cloud),
            "resolution": {"name": issue.resolution} if issue.resolution else None,
            "description": issue.description,
            "labels": list(issue.labels),
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "security": {"name": issue.security} if issue.security else None,
        },
    }


def comment_json(comment: JiraComment, *, cloud: bool) -> Payload:
    raw: Payload = {
        "id": comment.id,
        "body": comment.body,
        "author": user_json(comment.author, cloud=cloud),
        "updateAuthor": user_json(comment.author, cloud=cloud),
        "created": jira_time(comment.created),
        "updated": jira_time(comment.updated),
    }
    if comment.visibility is not None:
        kind, value = comment.visibility
        raw["visibility"] = {"type": kind, "value": value}
    return raw


# Changes that are webhooks of their own, never part of a changelog.
_ALONE = ("comment", "comment_updated", "comment_deleted", "created", "deleted")


class JiraWebhookEmitter:
    """Turns the in-memory Jira's changes into webhook payloads and hands each to `deliver`."""

    def __init__(
        self,
        jira: InMemoryJira,
        deliver: Callable[[Payload], None],
        *,
        cloud: bool = True,
        batch_delay: float = 0.05,
    ) -> None:
        self.jira = jira
        self.deliver = deliver
        self.cloud = cloud
        self.batch_delay = batch_delay
        self._changes: queue.Queue[IssueChange | None] = queue.Queue()
        self._known: dict[str, JiraIssue] = {i.key: i for i in jira.search_all("ORDER BY key")}
        self._changelog_ids = itertools.count(10_000)
        self._thread = threading.Thread(target=self._run, name="jira-webhooks", daemon=True)
        self._idle = threading.Event()
        self._idle.set()

    def start(self) -> JiraWebhookEmitter:
        self.jira.add_listener(self._on_change)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._changes.put(None)
        self._thread.join(5)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every change so far has been delivered."""
        self._idle.wait(timeout)

    def _on_change(self, change: IssueChange) -> None:
        self._idle.clear()
        self._changes.put(change)

    def _run(self) -> None:
        while True:
            first = self._changes.get()
            if first is None:
                return
            threading.Event().wait(self.batch_delay)  # one operation's changes form one changelog
            batch = [first]
            while not self._changes.empty():
                nxt = self._changes.get()
                if nxt is None:
                    self._emit(batch)
                    return
                batch.append(nxt)
            self._emit(batch)
            if self._changes.empty():
                self._idle.set()

    def _emit(self, batch: list[IssueChange]) -> None:
        groups: list[list[IssueChange]] = []
        for change in batch:
            if (
                groups
                and groups[-1][0].key == change.key
                and groups[-1][0].actor == change.actor
                and change.field not in _ALONE
                and groups[-1][0].field not in _ALONE
            ):
                groups[-1].append(change)
            else:
                groups.append([change])
        for group in groups:
            for payload in self._payloads(group):
                try:
                    self.deliver(payload)
                except Exception:
                    log.exception("delivering a Jira webhook failed")

    def _payloads(self, group: list[IssueChange]) -> list[Payload]:
        head = group[0]
        issue = self._current(head)
        if issue is None:
            return []
        base: Payload = {
            "timestamp": int(head.at.timestamp() * 1000),
            "user": user_json(head.actor, cloud=self.cloud),
            "issue": issue_json(issue, cloud=self.cloud),
        }
        if head.field == "created":
            return [
                {
                    **base,
                    "webhookEvent": "jira:issue_created",
                    "issue_event_type_name": "issue_created",
                }
            ]
        if head.field == "deleted":
            return [
                {
                    **base,
                    "webhookEvent": "jira:issue_deleted",
                    "issue_event_type_name": "issue_deleted",
                }
            ]
        if head.field in ("comment_updated", "comment_deleted"):
            if head.field == "comment_deleted":
                gone = self.jira.deleted_comments.get(head.new or "")
            else:
                gone = next((c for c in self.jira.comments(issue.key) if c.id == head.new), None)
            if gone is None:
                return []
            event = "comment_updated" if head.field == "comment_updated" else "comment_deleted"
            return [
                {**base, "webhookEvent": event, "comment": comment_json(gone, cloud=self.cloud)}
            ]
        if head.field == "comment":
            comment = next((c for c in self.jira.comments(issue.key) if c.id == head.new), None)
            if comment is None:
                return []
            body = comment_json(comment, cloud=self.cloud)
            created: Payload = {**base, "webhookEvent": "comment_created", "comment": body}
            if not self.cloud:
                return [
                    {
                        **base,
                        "webhookEvent": "jira:issue_updated",
                        "issue_event_type_name": "issue_commented",
                        "comment": body,
                    }
                ]
            # Jira Cloud reports one comment twice: comment_created and issue_updated.
            return [
                created,
                {
                    **base,
                    "webhookEvent": "jira:issue_updated",
                    "issue_event_type_name": "issue_commented",
                    "comment": body,
                },
            ]
        items = [self._item(change) for change in group if change.field in CHANGELOG_FIELDS]
        if not items:
            return []
        event_type = (
            "issue_assigned" if all(i["field"] == "assignee" for i in items) else "issue_generic"
        )
        return [
            {
                **base,
                "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": event_type,
                "changelog": {"id": str(next(self._changelog_ids)), "items": items},
            }
        ]

    def _current(self, change: IssueChange) -> JiraIssue | None:
        key = change.new if change.field == "key" and change.new else change.key
        found = self.jira.search_all(f"key = {key}") if change.field != "deleted" else []
        if found:
            self._known[found[0].key] = found[0]
            return found[0]
        return self._known.get(change.key)

    def _item(self, change: IssueChange) -> Payload:
        field = CHANGELOG_FIELDS[change.field]
        if change.field == "assignee":
            names = {u.account_id: u.display_name for u in self.jira.users()}
            old, new = change.old, change.new
            return {
                "field": field,
                "fieldtype": "jira",
                "fieldId": "assignee",
                "from": old,
                "fromString": names.get(old or ""),
                "to": new,
                "toString": names.get(new or ""),
            }
        return {
            "field": field,
            "fieldtype": "jira",
            "fieldId": change.field,
            "from": None,
            "fromString": change.old,
            "to": None,
            "toString": change.new,
        }
