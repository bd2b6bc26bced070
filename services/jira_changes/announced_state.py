"""What Connect last announced about one issue, stored as JSON in `jira_tickets.announced`.

The change detector compares what Jira says now with this, so a change that arrives twice
(a retried webhook, or the webhook and the poller both) is announced once. Loading never
fails: an empty, old or damaged value reads as "nothing announced yet".

JSON shape (version 1):
    {"version": 1, "baselined": bool, "key": str|null,
     "status", "assignee_id", "assignee", "priority", "resolution", "summary": str|null,
     "created": bool, "deleted": bool,
     "generations": {field: int},      # how many changes of each kind were announced
     "changed_at": {field: iso},       # issue `updated` of the newest announced change
     "comments": {comment id: iso updated | "deleted"},   # the latest MAX_COMMENTS
     "comments_floor": iso|null}       # comments last updated at or before this were seen
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.jira_changes.events import CommentInfo, IssueSnapshot, parse_jira_time, utc_iso

STATE_VERSION = 1
MAX_COMMENTS = 200
DELETED = "deleted"
TRACKED_FIELDS = ("status", "resolution", "assignee", "priority", "summary")
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
_TEXT_FIELDS = ("key", "status", "assignee_id", "assignee", "priority", "resolution", "summary")


@dataclass(slots=True)
class AnnouncedState:
    baselined: bool = False  # the fields below hold real values, not just "unknown"
    key: str | None = None
    status: str | None = None
    assignee_id: str | None = None
    assignee: str | None = None
    priority: str | None = None
    resolution: str | None = None
    summary: str | None = None
    created: bool = False  # the creation was announced, or predates Connect's interest
    deleted: bool = False
    generations: dict[str, int] = field(default_factory=dict)
    changed_at: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    comments_floor: str | None = None

    @classmethod
    def load(cls, raw: Any) -> AnnouncedState:
        state = cls()
        if not isinstance(raw, Mapping):
            return state
        for name in _TEXT_FIELDS:
            value = raw.get(name)
            if isinstance(value, str):
                setattr(state, name, value)
        for name in ("baselined", "created", "deleted"):
            if isinstance(raw.get(name), bool):
                setattr(state, name, raw[name])
        state.generations = {
            str(k): v
            for k, v in _mapping(raw.get("generations")).items()
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0
        }
        state.changed_at = _times(raw.get("changed_at"))
        state.comments = {
            str(k): v
            for k, v in _mapping(raw.get("comments")).items()
            if isinstance(v, str) and (v == DELETED or parse_jira_time(v) is not None)
        }
        floor = raw.get("comments_floor")
        state.comments_floor = floor if isinstance(floor, str) and parse_jira_time(floor) else None
        return state

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": STATE_VERSION, "baselined": self.baselined}
        data.update({name: getattr(self, name) for name in _TEXT_FIELDS})
        data.update(
            created=self.created,
            deleted=self.deleted,
            generations=dict(self.generations),
            changed_at=dict(self.changed_at),
            comments=dict(self.comments),
            comments_floor=self.comments_floor,
        )
        return data

    def value(self, name: str) -> str | None:
        """The announced display value of a tracked field."""
        return getattr(self, name) if name in TRACKED_FIELDS else None

    def set_value(self, name: str, value: str | None, assignee_id: str | None = None) -> None:
        setattr(self, name, value)
        if name == "assignee":
            self.assignee_id = assignee_id

    def next_generation(self, kind: str) -> int:
        self.generations[kind] = self.generations.get(kind, 0) + 1
        return self.generations[kind]

    def changed_time(self, name: str) -> datetime | None:
        """When the field's current value was announced (the issue's `updated` then)."""
        return parse_jira_time(self.changed_at.get(name))

    def is_stale(self, name: str, updated: datetime | None) -> bool:
        """An older delivery than the one that announced this field's current value."""
        announced_at = parse_jira_time(self.changed_at.get(name))
        return updated is not None and announced_at is not None and updated < announced_at

    def mark_changed(self, name: str, updated: datetime | None) -> None:
        if updated is not None and not self.is_stale(name, updated):
            self.changed_at[name] = utc_iso(updated)

    def seed(self, issue: IssueSnapshot, *, skip: Iterable[str] = ()) -> None:
        """Take the snapshot's values as known, except the fields named in `skip`."""
        skipped = set(skip)
        if issue.key:
            self.key = issue.key
        for name in TRACKED_FIELDS:
            if name in skipped:
                continue
            if name == "assignee":
                assignee = issue.assignee
                self.set_value(
                    "assignee",
                    assignee.display_name if assignee else None,
                    assignee.account_id if assignee else None,
                )
            else:
                self.set_value(name, getattr(issue, name))
        self.baselined = True
        self.raise_comments_floor(issue.updated)

    def raise_comments_floor(self, moment: datetime | None) -> None:
        floor = parse_jira_time(self.comments_floor)
        if moment is not None and (floor is None or moment > floor):
            self.comments_floor = utc_iso(moment)

    def comment_time(self, comment_id: str) -> datetime | None:
        return parse_jira_time(self.comments.get(comment_id))

    def comment_deleted(self, comment_id: str) -> bool:
        return self.comments.get(comment_id) == DELETED

    def below_floor(self, moment: datetime | None) -> bool:
        floor = parse_jira_time(self.comments_floor)
        return moment is not None and floor is not None and moment <= floor

    def remember_comment(self, comment: CommentInfo, *, deleted: bool = False) -> None:
        when = comment.updated or comment.created
        self.comments.pop(comment.id, None)
        if deleted:
            self.comments[comment.id] = DELETED
        elif when is not None:
            self.comments[comment.id] = utc_iso(when)
        else:  # real comments always carry times; without, it can only be told once
            self.comments[comment.id] = utc_iso(_LONG_AGO)
        while len(self.comments) > MAX_COMMENTS:
            oldest = next(iter(self.comments))
            self.raise_comments_floor(parse_jira_time(self.comments.pop(oldest)))


def _mapping(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _times(value: Any) -> dict[str, str]:
    return {
        str(k): v
        for k, v in _mapping(value).items()
        if isinstance(v, str) and parse_jira_time(v) is not None
    }
