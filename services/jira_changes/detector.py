"""The one change detector: webhook events and poller snapshots in, typed changes out.

Pure: it takes the issue's announced state (`services.jira_changes.announced_state`, stored
as JSON) and returns the changes to announce with the state after announcing them. A change
whose new value is what was last announced yields nothing, so the same change seen twice, or
by both the webhook and the poller, is announced once.

Identity. `Change.identity` is the same for the same real change whichever route saw it, and
different for two changes to the same value (To Do → In Progress → To Do → In Progress is two).
Neither route can supply a shared time: a webhook's changelog carries no time of its own, and
the poller only sees the issue's `updated`, which later edits move on. So a field change is
numbered instead: `{issue id}:{kind}:{n}:{new value}`, where n counts the changes of that kind
announced for the issue so far (kept in the state). Whichever route sees a change first
announces it as number n; the other route then finds the value already announced and yields
nothing, and a replay from the same stored state (a retry after a crash) computes the same n.
Comments carry their own ids: `{issue id}:comment:{id}`, plus `:edited:{updated}` for an edit
and `:deleted`; creation and deletion are `{issue id}:created` / `{issue id}:deleted`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from clients.jira_client import JiraUser
from services.jira_changes.announced_state import TRACKED_FIELDS, AnnouncedState
from services.jira_changes.events import CommentInfo, FieldChange, IssueSnapshot, JiraEvent, utc_iso
from services.markup.mentions import mentioned_accounts

ChangeKind = Literal[
    "moved",
    "created",
    "status",
    "resolution",
    "assignee",
    "priority",
    "summary",
    "comment_added",
    "comment_edited",
    "comment_deleted",
    "deleted",
    "description",
]
ORDER: tuple[ChangeKind, ...] = (
    "moved",
    "created",
    "status",
    "resolution",
    "assignee",
    "priority",
    "summary",
    "comment_added",
    "comment_edited",
    "comment_deleted",
    "deleted",
    "description",
)
# What a channel set to `notify important` still hears (SPEC §4 settings).
IMPORTANT: frozenset[str] = frozenset(ORDER) - {"priority", "summary", "description"}
# Told only to the people it concerns, never in a channel: a description that now @mentions
# someone (the description itself is not news for a thread).
PERSONAL_ONLY: frozenset[str] = frozenset({"description"})
_FIELD_KINDS: dict[str, ChangeKind] = {
    "status": "status",
    "resolution": "resolution",
    "assignee": "assignee",
    "priority": "priority",
    "summary": "summary",
}
_IDENTITY_VALUE_CHARS = 100
# Values a complete snapshot may lack without the field having been emptied (a hidden field).
_NEVER_EMPTIED = frozenset({"status", "priority", "summary"})


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    issue_id: str
    issue_key: str
    actor: JiraUser | None
    old: str | None  # display values: status names, assignee names, keys for `moved`
    new: str | None  # for `created`, the summary
    comment: CommentInfo | None
    identity: str
    important: bool
    new_id: str | None = None  # the new assignee's account (Cloud) or user name (DC)
    mentions: tuple[str, ...] = ()  # who the new text @mentions (a comment, a description)


@dataclass(frozen=True, slots=True)
class Detection:
    changes: tuple[Change, ...]
    state: dict[str, Any]  # the AnnouncedState JSON to store


class _Draft:
    """The changes one detection makes, built against its state."""

    def __init__(self, state: AnnouncedState, issue: IssueSnapshot) -> None:
        self.state = state
        self.issue = issue
        self.changes: list[Change] = []

    def add(
        self,
        kind: ChangeKind,
        identity: str,
        *,
        actor: JiraUser | None,
        old: str | None = None,
        new: str | None = None,
        comment: CommentInfo | None = None,
        new_id: str | None = None,
        mentions: tuple[str, ...] = (),
    ) -> None:
        key = self.state.key or self.issue.key
        important = kind in IMPORTANT
        self.changes.append(
            Change(
                kind,
                self.issue.id,
                key,
                actor,
                old,
                new,
                comment,
                identity,
                important,
                new_id,
                mentions,
            )
        )

    def numbered(self, kind: ChangeKind, value: str | None) -> str:
        number = self.state.next_generation(kind)
        return f"{self.issue.id}:{kind}:{number}:{(value or '-')[:_IDENTITY_VALUE_CHARS]}"

    def result(self) -> Detection:
        ordered = sorted(self.changes, key=lambda change: ORDER.index(change.kind))
        return Detection(tuple(ordered), self.state.to_json())


def baseline(snapshot: IssueSnapshot, comments: Sequence[CommentInfo] = ()) -> dict[str, Any]:
    """The announced state of an issue as it is when it is first linked: the first webhook
    after linking is compared with this, and nothing up to now is announced again."""
    state = AnnouncedState(created=True)
    state.seed(snapshot)
    for comment in comments:
        state.remember_comment(comment)
    return state.to_json()


def detect(event: JiraEvent, announced: Mapping[str, Any] | None) -> Detection:
    """The changes a webhook event announces, and the announced state after them."""
    state = AnnouncedState.load(announced)
    issue = event.issue
    if event.kind == "unknown" or issue is None or state.deleted:
        return Detection((), state.to_json())
    found = _Draft(state, issue)
    if event.kind == "issue_deleted":
        state.deleted = True
        found.add("deleted", f"{issue.id}:deleted", actor=event.actor, old=issue.key or state.key)
        return found.result()
    if event.kind == "issue_created":
        if not state.created:
            state.created = True
            found.add(
                "created",
                f"{issue.id}:created",
                actor=event.actor,
                new=issue.summary,
                new_id=issue.assignee.account_id if issue.assignee else None,
                mentions=issue.mentions,
            )
        if issue.complete:
            state.seed(issue)
        elif issue.key:
            state.key = issue.key
        return found.result()
    _moved(found, event.changes, event.actor)
    spoken = _changelog_changes(found, event.changes, event.actor)
    _description_mentions(found, event.changes, event.actor)
    if not event.changes and event.kind == "issue_updated" and issue.complete and state.baselined:
        _snapshot_changes(found, event.actor)
    if event.comment is not None:
        _comment_event(found, event, event.comment)
    if issue.complete and not state.baselined:
        state.seed(issue, skip=spoken)  # after the comment: seeding marks older comments seen
    return found.result()


def detect_snapshot(
    snapshot: IssueSnapshot,
    comments: Sequence[CommentInfo],
    announced: Mapping[str, Any] | None,
    *,
    actor: JiraUser | None = None,
    since: datetime | None = None,
) -> Detection:
    """What a fresh look at the issue (the poller) has to announce. The first look at an issue
    with no announced state only sets the baseline; it announces `created` when the issue was
    created at or after `since`."""
    state = AnnouncedState.load(announced)
    found = _Draft(state, snapshot)
    if state.deleted:
        return found.result()
    if not state.baselined:
        created = snapshot.created
        if since is not None and created is not None and created >= since and not state.created:
            found.add("created", f"{snapshot.id}:created", actor=actor, new=snapshot.summary)
        state.created = True
        state.seed(snapshot)
        for comment in comments:
            state.remember_comment(comment)
        return found.result()
    _moved(found, (), actor)
    if snapshot.complete:
        _snapshot_changes(found, actor)
    for comment in sorted(comments, key=_comment_order):
        _comment_seen(found, comment, None, edited_hint=False)
    return found.result()


def detect_deleted(
    issue_id: str, issue_key: str, announced: Mapping[str, Any] | None, *, actor: JiraUser | None
) -> Detection:
    """The poller found the issue gone (404): announced once, like `jira:issue_deleted`."""
    event = JiraEvent(
        kind="issue_deleted",
        issue=IssueSnapshot(id=issue_id, key=issue_key, project_key=""),
        actor=actor,
    )
    return detect(event, announced)


def _moved(found: _Draft, changes: Sequence[FieldChange], actor: JiraUser | None) -> None:
    """A `Key` changelog item, or (for a full snapshot) a key other than the announced one."""
    state, issue = found.state, found.issue
    key_item = next((c for c in changes if c.field == "key" and c.to_string), None)
    if key_item is not None:
        old, new = key_item.from_string or state.key, key_item.to_string
    elif issue.complete and issue.key and not state.is_stale("moved", issue.updated):
        old, new = state.key, issue.key
    else:
        if state.key is None and issue.key:
            state.key = issue.key
        return
    if not new or new == state.key or old is None or old == new:
        state.key = new or state.key
        return
    state.key = new
    state.mark_changed("moved", issue.updated)
    found.add("moved", found.numbered("moved", new), actor=actor, old=old, new=new)


def _tracked(change: FieldChange) -> str | None:
    """Which announced field a changelog item is about (custom fields never are)."""
    if change.field_type == "custom":
        return None
    name = (change.field_id or change.field).lower()
    return name if name in _FIELD_KINDS else None


def _changelog_changes(
    found: _Draft, changes: Sequence[FieldChange], actor: JiraUser | None
) -> list[str]:
    """Changes named by the changelog; returns the fields it spoke about. Several items for
    one field make one change, from the first item's old value to the last one's new."""
    state, issue = found.state, found.issue
    spans: dict[str, tuple[FieldChange, FieldChange]] = {}
    for change in changes:
        name = _tracked(change)
        if name is not None:
            spans[name] = (spans[name][0] if name in spans else change, change)
    for name, (first, last) in spans.items():
        if state.is_stale(name, issue.updated):
            continue
        if first.from_string == last.to_string and first.from_id == last.to_id:
            continue
        new, new_id = last.to_string, last.to_id
        known = state.baselined or name in state.generations
        if name == "assignee":
            new_id = _assignee_id(issue, new, new_id)
            if known and _same_assignee(state, new_id, new):
                continue
        elif known and state.value(name) == new:
            continue
        state.set_value(name, new, new_id)
        state.mark_changed(name, issue.updated)
        kind = _FIELD_KINDS[name]
        identity = found.numbered(kind, _identity_value(name, new, new_id))
        found.add(kind, identity, actor=actor, old=first.from_string, new=new, new_id=new_id)
    return list(spans)


def _description_mentions(
    found: _Draft, changes: Sequence[FieldChange], actor: JiraUser | None
) -> None:
    """A description edit that @mentions someone it did not mention before."""
    items = [c for c in changes if (c.field_id or c.field).lower() == "description"]
    if not items:
        return
    before = set(mentioned_accounts(items[0].from_string or ""))
    added = tuple(m for m in mentioned_accounts(items[-1].to_string or "") if m not in before)
    if added:
        identity = found.numbered("description", ",".join(added))
        found.add("description", identity, actor=actor, mentions=added)


def _identity_value(name: str, new: str | None, new_id: str | None) -> str | None:
    """Display values, as both routes name them alike; people by account (names repeat)."""
    return (new_id or new) if name == "assignee" else new


def _assignee_id(issue: IssueSnapshot, name: str | None, changelog_id: str | None) -> str | None:
    """Prefer the snapshot's id (what the poller sees too): Data Center changelogs carry the
    user key, which can differ from the user name the REST API reports."""
    assignee = issue.assignee
    if issue.complete and assignee is not None and assignee.display_name == name:
        return assignee.account_id
    return changelog_id


def _same_assignee(state: AnnouncedState, new_id: str | None, new_name: str | None) -> bool:
    if new_id is None and new_name is None:
        return state.assignee_id is None and state.assignee is None
    return bool(
        (new_id and new_id == state.assignee_id) or (new_name and new_name == state.assignee)
    )


def _snapshot_changes(found: _Draft, actor: JiraUser | None) -> None:
    """Without a changelog of the event: whatever differs between the snapshot and the
    announced state, credited to `actor` (a webhook's user), else to whom the issue's own
    changelog names (the poller asks for it)."""
    state, issue = found.state, found.issue
    for name in TRACKED_FIELDS:
        if state.is_stale(name, issue.updated):
            continue
        if name == "assignee":
            user = issue.assignee
            new, new_id = (user.display_name, user.account_id) if user else (None, None)
            if _same_assignee(state, new_id, new):
                continue
        else:
            new, new_id = getattr(issue, name), None
            if new == state.value(name) or (new is None and name in _NEVER_EMPTIED):
                continue
        old, since = state.value(name), state.changed_time(name)
        state.set_value(name, new, new_id)
        state.mark_changed(name, issue.updated)
        kind = _FIELD_KINDS[name]
        identity = found.numbered(kind, _identity_value(name, new, new_id))
        who = actor or _changed_by(issue, name, since)
        found.add(kind, identity, actor=who, old=old, new=new, new_id=new_id)


def _changed_by(issue: IssueSnapshot, name: str, since: datetime | None) -> JiraUser | None:
    """Who made the change a poll found in field `name`: the author of the changelog's latest
    entry about it, provided that entry is newer than the field's last announced change
    (`since`); else nobody is named (a changelog cut short, or none asked for)."""
    about = [
        (entry.created, entry.author)
        for entry in issue.history
        if name in entry.fields
        and entry.created is not None
        and (since is None or entry.created > since)
    ]
    return max(about, key=lambda found: found[0])[1] if about else None


def _comment_event(found: _Draft, event: JiraEvent, comment: CommentInfo) -> None:
    if event.kind != "comment_deleted":
        _comment_seen(found, comment, event.actor, edited_hint=event.kind == "comment_updated")
        return
    if found.state.comment_deleted(comment.id):
        return
    found.state.remember_comment(comment, deleted=True)
    identity = f"{found.issue.id}:comment:{comment.id}:deleted"
    found.add("comment_deleted", identity, actor=event.actor, comment=comment)


def _comment_seen(
    found: _Draft, comment: CommentInfo, actor: JiraUser | None, *, edited_hint: bool
) -> None:
    """A comment as it is now: new → added; known with a later `updated` → edited."""
    state = found.state
    if state.comment_deleted(comment.id):
        return
    when = comment.updated or comment.created
    known_at = state.comment_time(comment.id)
    if known_at is not None:
        if when is None or when <= known_at:
            return
        kind: ChangeKind = "comment_edited"
    elif state.below_floor(when):
        return  # from before Connect followed the issue
    elif state.below_floor(comment.created):
        kind = "comment_edited"  # an old comment, edited now
    elif state.comments_floor is not None and comment.created is not None:
        kind = "comment_added"  # created while followed: its creation was never told
    else:
        kind = "comment_edited" if edited_hint else "comment_added"
    state.remember_comment(comment)
    if kind == "comment_added":
        identity = f"{found.issue.id}:comment:{comment.id}"
        who = actor or comment.author
        mentions = comment.mentions
    else:
        identity = f"{found.issue.id}:comment:{comment.id}:edited:{utc_iso(when) if when else '-'}"
        who = actor or comment.update_author or comment.author
        mentions = ()  # who was mentioned was told when it was added
    found.add(kind, identity, actor=who, comment=comment, mentions=mentions)


def _comment_order(comment: CommentInfo) -> tuple[float, str]:
    when = comment.created or comment.updated
    return (when.timestamp() if when else 0.0, comment.id)
