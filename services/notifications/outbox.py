"""The outbox dispatcher: claim, send once, mark; honour Slack's limits; lose nothing.

Claims are row locks (FOR UPDATE SKIP LOCKED on PostgreSQL) turned into a lease
(`claimed_until`), so several processes share the table. A send whose outcome is unknown
(the process died between posting and marking, or Slack answered a post with a 5xx or cut the
connection) is looked up in Slack by the idempotency key the message carries in its metadata
before it is sent again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clients.slack_client import SlackClient, SlackError, SlackUnavailable
from clients.slack_teams import team_scope
from models import NotificationOutbox, utcnow
from models.delivery import FAILED, PENDING, SENDING, SENT, SKIPPED
from services.jira_changes.outages import outage_delay
from services.log_context import log_context
from services.unit_of_work import UnitOfWorkFactory, exclusive_claims

log = logging.getLogger(__name__)

METADATA_EVENT = "connect_notification"
METADATA_KEY = "idempotency_key"
LEASE = timedelta(seconds=60)
CHANNEL_INTERVAL = timedelta(seconds=1)  # Slack allows about one message a second per channel
MAX_ATTEMPTS = 8
MESSAGE_GONE = "message_not_found"  # chat.update of a message someone deleted

Renderer = Callable[[Mapping[str, Any]], tuple[str, list[dict[str, Any]]]]


class ThreadBook(Protocol):
    """Rows whose thread is only known once an earlier row is sent (subscription threads)."""

    def hold(self, session: Session, row: NotificationOutbox) -> bool:
        """True: not yet (the row stays pending). False: send it, to `row.thread_ts`."""
        ...

    def posted(self, session: Session, row: NotificationOutbox, ts: str) -> None: ...


def is_person(channel: str) -> bool:
    """A DM row's destination is the person's Slack user id (U…, or W… on Enterprise Grid)."""
    return channel[:1] in ("U", "W")


# (team id, Slack user id, issue id) → whether that person may read the issue now (False: the
# DM is skipped), or None when Jira could not say (the DM waits). JIRA_AUTH_MODE=user only.
DmGate = Callable[[str, str, str], bool | None]


class OutboxDispatcher:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        slack: SlackClient,
        render: Renderer,
        *,
        worker_id: str,
        clock: Callable[[], datetime] = utcnow,
        channel_interval: timedelta = CHANNEL_INTERVAL,
        threads: ThreadBook | None = None,
        dm_gate: DmGate | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        """`lease`: how long a claimed row is this worker's; a crashed worker's rows are taken
        up by another once it has run out (a post is looked up by its key before it is sent
        again, so a claim that outlives its lease is never posted twice)."""
        self.uow = uow
        self.lease = lease
        self.dm_gate = dm_gate
        self.slack = slack
        self.render = render
        self.worker_id = worker_id
        self.clock = clock
        self.channel_interval = channel_interval
        self.threads = threads
        self._last_post: dict[str, datetime] = {}
        # Rows this dispatcher claimed but could not settle (the database went away mid-run):
        # taken up again as soon as it answers, not only once their lease runs out.
        self._stranded: set[int] = set()
        self._dms: dict[str, str] = {}  # Slack user id -> the id of Connect's DM with them
        self._lock = threading.Lock()

    def run_once(self, limit: int = 20) -> int:
        """Send what is due; the number of rows settled (sent, rescheduled or failed)."""
        claimed = self._claim(limit)
        for index, (row_id, channel, unknown_outcome) in enumerate(claimed):
            try:
                with log_context(outbox_id=row_id):  # on every line logged while sending it
                    self._deliver(row_id, channel, unknown_outcome)
            except Exception:
                with self._lock:
                    self._stranded.update(row for row, _, _ in claimed[index:])
                raise
        return len(claimed)

    def _claim(self, limit: int) -> list[tuple[int, str, bool]]:
        now = self.clock()
        with self._lock:
            self._last_post = {
                c: at for c, at in self._last_post.items() if now - at < self.channel_interval
            }
            paced = list(self._last_post)
            stranded = sorted(self._stranded)
        due = or_(
            (NotificationOutbox.status == PENDING) & (NotificationOutbox.available_at <= now),
            (NotificationOutbox.status == SENDING) & (NotificationOutbox.claimed_until < now),
        )
        if stranded:  # still claimed by this dispatcher: looked up in Slack before sending
            due = due | (
                (NotificationOutbox.status == SENDING)
                & (NotificationOutbox.claimed_by == self.worker_id)
                & NotificationOutbox.id.in_(stranded)
            )
        # Channels posted to within the last second are left out of the query itself, so one
        # busy channel's backlog never hides the rows of quiet channels behind it.
        if paced:
            due = due & NotificationOutbox.channel_id.not_in(paced)
        with self.uow() as work, exclusive_claims(work):
            rows = work.session.scalars(
                select(NotificationOutbox)
                .where(due)
                .order_by(NotificationOutbox.available_at, NotificationOutbox.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            claimed = []
            busy: set[str] = set()
            for row in rows:
                if row.channel_id in busy or not self._channel_free(row.channel_id, now):
                    continue  # Slack's per-channel pace: one of this channel's rows at a time
                if self.threads is not None and self.threads.hold(work.session, row):
                    row.available_at = now + self.channel_interval  # its thread is not out yet
                    continue
                busy.add(row.channel_id)
                unknown_outcome = row.status == SENDING  # a sender died (or stalled) mid-send
                row.status = SENDING
                row.claimed_by = self.worker_id
                row.claimed_until = now + self.lease
                row.attempts += 1
                claimed.append((row.id, row.channel_id, unknown_outcome))
            work.commit()
        with self._lock:
            self._stranded.difference_update(row_id for row_id, _, _ in claimed)
        return claimed

    def _channel_free(self, channel: str, now: datetime) -> bool:
        with self._lock:
            last = self._last_post.get(channel)
        return last is None or now - last >= self.channel_interval

    def _deliver(self, row_id: int, channel: str, unknown_outcome: bool) -> None:
        with self.uow() as work:
            row = work.session.get(NotificationOutbox, row_id)
            if row is None or row.status != SENDING or row.claimed_by != self.worker_id:
                return
            key, thread_ts, payload = row.idempotency_key, row.thread_ts, dict(row.payload)
            team = row.team_id
            created = row.created_at
            attempts = row.attempts
            revision, posted_ts = row.revision, row.posted_ts
            where = row.posted_channel or channel
            issue_id = row.issue_id
        if self.dm_gate is not None and is_person(channel) and posted_ts is None and issue_id:
            # Asked as the person, now, outside any transaction (JIRA_AUTH_MODE=user).
            with team_scope(team):
                seen = self.dm_gate(team, channel, issue_id)
            if seen is None:  # Jira could not say: the DM waits, as for an outage
                self._settle(row_id, PENDING, error="jira_unavailable", outage=0.0)
                return
            if not seen:
                self._settle(row_id, SKIPPED, error="the person may not read the issue")
                return
        sending = False  # once the post went out, a failure leaves its outcome unknown
        try:
            with team_scope(team):  # multi-workspace: the row's workspace token
                if is_person(channel) and where == channel:
                    where = self._dm_channel(team, channel)  # edits and look-ups need its id
                if posted_ts is None and unknown_outcome:
                    posted_ts = self._find(where, key, thread_ts, created)
                    # Found: it may show fewer changes than the row holds now, so it is edited.
                if posted_ts is None:
                    sending = True
                    where, posted_ts = self._post(where, key, thread_ts, payload)
                else:
                    try:
                        self._edit(where, posted_ts, payload)
                    except SlackError as exc:
                        if isinstance(exc, SlackUnavailable) or exc.error != MESSAGE_GONE:
                            raise
                        # Someone deleted the message: the burst goes on in a new one.
                        sending = True
                        where, posted_ts = self._post(where, key, thread_ts, payload)
        except SlackUnavailable as exc:
            # An outage, not an attempt: the row waits (Retry-After, else a capped back-off).
            # A 429 says nothing was posted; a 5xx or a cut connection does not say either way.
            unknown = (sending and exc.error != "ratelimited") or (unknown_outcome and not sending)
            self._settle(
                row_id, PENDING, error=exc.error, outage=exc.retry_after or 0.0, unknown=unknown
            )
            return
        except SlackError as exc:
            log.error(
                "notification %s to %s failed for good: %s (`python -m bot failed`)",
                row_id,
                channel,
                exc.error,
            )
            self._settle(row_id, FAILED, error=exc.error)
            return
        except Exception as exc:
            log.exception("notification %s could not be sent", row_id)
            self._settle(
                row_id,
                PENDING,
                error=type(exc).__name__,
                delay=30.0,
                attempts=attempts,
                unknown=sending or unknown_outcome,
            )
            return
        with self._lock:
            self._last_post[channel] = self.clock()  # Slack's pace, per row destination
        self._settle(
            row_id, SENT, posted_ts=posted_ts, posted_channel=where, shown_revision=revision
        )

    def _dm_channel(self, team_id: str, user_id: str) -> str:
        """The id of Connect's DM with a person (the channel its messages are edited in)."""
        key = f"{team_id}:{user_id}"  # user ids are per workspace
        with self._lock:
            known = self._dms.get(key)
        if known is None:
            known = self.slack.open_dm(user_id)
            with self._lock:
                self._dms[key] = known
        return known

    def _find(self, channel: str, key: str, thread_ts: str | None, created: datetime) -> str | None:
        """The ts of the row's message if an earlier send did post it after all."""
        return self.slack.find_message_by_metadata(
            channel,
            event_type=METADATA_EVENT,
            key_field=METADATA_KEY,
            key=key,
            thread_ts=thread_ts,
            oldest=f"{created.timestamp() - 60:.6f}",
        )

    def _post(
        self, channel: str, key: str, thread_ts: str | None, payload: dict[str, Any]
    ) -> tuple[str, str]:
        text, blocks = self.render(payload)
        posted = self.slack.post_message(
            channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            metadata={"event_type": METADATA_EVENT, "event_payload": {METADATA_KEY: key}},
        )
        return posted.channel or channel, posted.ts

    def _edit(self, channel: str, ts: str, payload: dict[str, Any]) -> None:
        """The burst's message, edited to show every change joined so far (idempotent)."""
        text, blocks = self.render(payload)
        self.slack.update_message(channel, ts, text=text, blocks=blocks)

    def _settle(
        self,
        row_id: int,
        status: str,
        *,
        error: str | None = None,
        delay: float = 0.0,
        attempts: int = 0,
        posted_ts: str | None = None,
        posted_channel: str | None = None,
        shown_revision: int = 0,
        unknown: bool = False,
        outage: float | None = None,
    ) -> None:
        """`unknown`: the message may have been posted; the row waits as an expired claim
        (SENDING), so that the next try looks it up in Slack before posting. `outage`: Slack
        could not be reached (at least this many seconds to wait): the claim's attempt is
        given back. `shown_revision`: the row's revision the posted message shows; a change
        joined meanwhile makes the row due again, as an edit."""
        now = self.clock()
        if status == PENDING and outage is None and attempts >= MAX_ATTEMPTS:
            status = FAILED
        # Serialised with the notifier, which joins changes into rows in flight.
        with self.uow() as work, exclusive_claims(work):
            row = work.session.get(NotificationOutbox, row_id, with_for_update=True)
            if row is None:
                return
            row.status = status
            row.last_error = error
            row.claimed_by = None
            row.claimed_until = None
            if outage is not None:
                row.attempts = max(row.attempts - 1, 0)
                row.outages += 1
                # Slack's Retry-After when it gave one, else a back-off growing per outage.
                wait = timedelta(seconds=outage) if outage else outage_delay(row.outages)
                row.available_at = now + wait
            elif status == PENDING:
                row.outages = 0
                row.available_at = now + timedelta(seconds=delay)
            if status == SENT:
                first_post = row.posted_ts is None
                row.sent_at = row.sent_at or now  # the burst window runs from the first post
                row.posted_ts = posted_ts
                row.sent_revision = shown_revision
                if posted_channel and posted_channel != row.channel_id:
                    row.posted_channel = posted_channel
                if self.threads is not None and posted_ts and first_post:
                    self.threads.posted(work.session, row, posted_ts)
                if row.revision > shown_revision:  # joined while it was sent: edit it now
                    row.status, row.available_at = PENDING, now
            elif status == FAILED:
                row.failed_at = now
            elif unknown:
                row.status, row.claimed_until = SENDING, row.available_at
            work.commit()
