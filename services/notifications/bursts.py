"""Bursts: the first change to an issue is queued to post at once; further changes to the same
issue within the burst window join that row, and the outbox edits the posted message in
place (`chat.update`), so a thread, channel or DM gets one message per burst (SPEC §7).

A row's `revision` counts the changes joined into it; the outbox records the revision the
message in Slack shows (`sent_revision`), and a row whose revision is ahead (a change joined
while it was being sent, or after) is due again, as an edit of `posted_ts`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from models import NotificationOutbox
from models.delivery import HELD, PENDING, SENDING, SENT
from services.jira_changes.detector import Change
from services.jira_changes.events import IssueSnapshot
from services.subscriptions.routing import HeldCheck
from services.subscriptions.threads import MARKER

BURST_WINDOW = timedelta(seconds=2)
# Changes one message carries; a longer burst continues in the next message. 20 sections and
# the card's context and actions stay within MAX_BLOCKS, and 20 comments of at most 1,500
# characters within MAX_MESSAGE_TEXT (`clients.slack_limits`).
MAX_CHANGES_PER_MESSAGE = 20
HELD_CHECK = "check"  # payload: what a held row asks Jira before it may be sent
REASONS = "reasons"  # payload of a DM: why it reaches that person (assigned, mentions, ...)
_IN_CHUNK = 500  # ids per SQL `IN (…)`

_NewRow = dict[str, Any]  # NotificationOutbox's columns
_BurstKey = tuple[str, str | None, str | None, bool]  # channel, thread or scope, issue, held


def outbox_key(change: Change, channel_id: str, thread_ts: str | None) -> str:
    raw = f"{change.identity}|{channel_id}|{thread_ts or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one change is posted. A subscription's rows are keyed by the subscription (its
    thread may not be known yet) and name their thread for the outbox (`thread_id`). A DM's
    channel is the person's Slack user id, and `reasons` say why it reaches them."""

    channel_id: str
    thread_ts: str | None
    key_scope: str | None = None
    thread_id: int | None = None
    held: HeldCheck | None = None  # a subscription filter Jira could not check yet
    reasons: tuple[str, ...] = ()

    @property
    def scope(self) -> str | None:
        return self.key_scope or self.thread_ts

    @property
    def burst_scope(self) -> str | None:
        """What a burst is joined by: a subscription's thread by its id (its first post is
        top-level, its ts known only once sent), else the thread posted to."""
        return f"thread:{self.thread_id}" if self.thread_id is not None else self.thread_ts


def _row_scope(row: NotificationOutbox) -> str | None:
    marker = row.payload.get(MARKER) if isinstance(row.payload, dict) else None
    if isinstance(marker, int) and not isinstance(marker, bool):
        return f"thread:{marker}"
    return row.thread_ts


class OpenBursts:
    """The rows whose burst is still open for some issues (queued, being sent, or posted
    within the window), by destination: read once, and joined by the rows queued meanwhile.
    A held row (its subscription filter waits for Jira) is joined only by held changes."""

    def __init__(self, session: Session, team_id: str, ids: Sequence[str], since: datetime):
        self.rows: dict[_BurstKey, NotificationOutbox | _NewRow] = {}
        self.new: list[_NewRow] = []  # queued by this batch, inserted together at its end
        for start in range(0, len(ids), _IN_CHUNK):
            for row in session.scalars(
                select(NotificationOutbox)
                .where(
                    NotificationOutbox.team_id == team_id,
                    NotificationOutbox.issue_id.in_(ids[start : start + _IN_CHUNK]),
                    NotificationOutbox.status.in_((PENDING, HELD, SENDING, SENT)),
                    # The window runs from the first post (SPEC §7); a row not posted yet
                    # gathers its burst from when it was queued.
                    or_(
                        NotificationOutbox.sent_at >= since,
                        NotificationOutbox.sent_at.is_(None)
                        & (NotificationOutbox.created_at >= since),
                    ),
                )
                .order_by(NotificationOutbox.id)
                .with_for_update()
            ):  # the newest row of a destination is the one a burst continues in
                key = (row.channel_id, _row_scope(row), row.issue_id, row.status == HELD)
                self.rows[key] = row

    def find(self, destination: Destination, issue_id: str) -> NotificationOutbox | _NewRow | None:
        key = (destination.channel_id, destination.burst_scope, issue_id)
        return self.rows.get((*key, destination.held is not None))

    def add(self, row: _NewRow, destination: Destination) -> None:
        """A new row; later changes to the same destination join it."""
        key = (destination.channel_id, destination.burst_scope, row["issue_id"])
        self.rows[(*key, row["status"] == HELD)] = row
        self.new.append(row)

    def insert(self, session: Session) -> None:
        """The new rows, in one INSERT of many (ORM objects would cost a flush each)."""
        if self.new:
            session.execute(insert(NotificationOutbox), self.new)
            self.new = []


class BurstQueue:
    """Writes changes into outbox rows: a new row, due at once, or the open burst's row."""

    def __init__(self, jira_base_url: str) -> None:
        self.jira_base_url = jira_base_url.rstrip("/")

    def enqueue(
        self,
        bursts: OpenBursts,
        team_id: str,
        destination: Destination,
        issue: IssueSnapshot,
        change: Change,
        line: dict[str, Any],
        now: datetime,
    ) -> str:
        """Queue the change (into the open burst's row when there is one); the idempotency
        key of the row that carries it."""
        held = destination.held
        row = bursts.find(destination, issue.id)
        if isinstance(row, dict):  # queued by this batch: still to be inserted
            payload = row["payload"]
            if len(payload["changes"]) < MAX_CHANGES_PER_MESSAGE:
                self._join(payload, issue, line, destination)
                return str(row["idempotency_key"])
        elif row is not None and len(row.payload.get("changes", [])) < MAX_CHANGES_PER_MESSAGE:
            payload = dict(row.payload)
            payload["changes"] = list(payload.get("changes", []))
            self._join(payload, issue, line, destination)
            row.payload = payload
            row.revision += 1
            if row.status == SENT:  # posted: edited in place, at once
                row.status, row.available_at = PENDING, now
            return row.idempotency_key
        key = outbox_key(change, destination.channel_id, destination.scope)
        fresh: dict[str, Any] = {"issue": self.issue_payload(issue, None), "changes": [line]}
        if destination.thread_id is not None:
            fresh[MARKER] = destination.thread_id
        if held is not None:
            fresh[HELD_CHECK] = held.to_json()
        if destination.reasons:
            fresh[REASONS] = list(destination.reasons)
        bursts.add(
            {
                "team_id": team_id,
                "idempotency_key": key,
                "channel_id": destination.channel_id,
                "thread_ts": destination.thread_ts,
                "issue_id": issue.id,
                "payload": fresh,
                "status": PENDING if held is None else HELD,
                "attempts": 0,
                "outages": 0 if held is None else 1,
                "revision": 0,
                "created_at": now,
                "available_at": now,  # nobody waits for the window: edits follow
            },
            destination,
        )
        return key

    def _join(
        self,
        payload: dict[str, Any],
        issue: IssueSnapshot,
        line: dict[str, Any],
        destination: Destination,
    ) -> None:
        """One more change in a row's payload (a held row: its subscriptions too)."""
        payload["issue"] = self.issue_payload(issue, payload.get("issue"))
        payload["changes"].append(line)
        held = destination.held
        if held is not None:
            before = HeldCheck.from_json(payload.get(HELD_CHECK))
            ids = sorted({*held.subscription_ids, *(before.subscription_ids if before else ())})
            payload[HELD_CHECK] = replace(held, subscription_ids=tuple(ids)).to_json()
        if destination.reasons:
            known = [str(r) for r in payload.get(REASONS) or []]
            payload[REASONS] = known + [r for r in destination.reasons if r not in known]

    def issue_payload(self, issue: IssueSnapshot, before: Any) -> dict[str, Any]:
        known = dict(before) if isinstance(before, dict) else {}
        fresh = {
            "id": issue.id,
            "key": issue.key,
            "summary": issue.summary,
            "status": issue.status,
            "url": f"{self.jira_base_url}/browse/{issue.key}",
        }
        payload = {**known, **{k: v for k, v in fresh.items() if v}}
        if issue.restricted or known.get("restricted"):
            # A security level: the summary is never stored for a channel, let alone shown.
            payload.pop("summary", None)
            payload["restricted"] = True
        return payload
