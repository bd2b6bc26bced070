"""Stored replies of synced threads, written to Jira exactly once, in each thread's order.

The same durable path as Jira webhooks (services.jira_changes.deliveries): the reply was
stored before Slack's event was acknowledged; here it is claimed with `FOR UPDATE SKIP
LOCKED` and a lease, so one process writes it however many run. A thread's replies go in the
order they were stored: a reply waits while an earlier one of its thread is pending (Jira
away, or being written by another process). The reply's row in `synced_replies`, with its
permalink, is written before Jira is called; a row found without its comment means an
earlier try may have made it, so Jira's comments are searched for that permalink first.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clients.jira_client import (
    JiraAuthError,
    JiraBadRequest,
    JiraClient,
    JiraComment,
    JiraError,
    JiraNotFound,
)
from clients.slack_client import SlackClient, SlackError
from models import JiraSlackLink, ProcessedDelivery, SyncedReply, utcnow
from models.delivery import DONE, FAILED, PENDING
from services.commands import mentioned_users
from services.errors import GONE_ERRORS
from services.jira_changes.outages import describe, is_outage, outage_delay
from services.markup import escape_mrkdwn, mrkdwn_to_wiki
from services.people.person_jira import JiraNotConnected
from services.thread_sync.attachments import AttachmentCopier
from services.thread_sync.echoes import trailing_permalink
from services.thread_sync.replies import REPLY_SOURCE, ReplyChange, synced_link_query
from services.unit_of_work import UnitOfWorkFactory, exclusive_claims

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LEASE = timedelta(seconds=60)
# Jira refuses a comment longer than 32,767 characters; the credit line needs the rest.
MAX_COMMENT_TEXT = 30_000
_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class Writer:
    """Whose Jira account writes a person's comments, and whether the comment must say who
    wrote it (`bot` mode: Connect's account, "<name> (via Slack)")."""

    jira: JiraClient
    credit: bool = True


# (team id, Slack user id) → the Writer for that person. The seam for `user` mode (SPEC §12),
# where a person's own Jira account writes their replies.
WriterFor = Callable[[str, str], Writer]


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    change: ReplyChange


class ReplySync:
    """The worker's `replies` job."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        slack: SlackClient,
        writer_for: WriterFor,
        display_name: Callable[[str, str], str],
        *,
        worker_id: str = "connect",
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = LEASE,
        outage_pause: float | None = None,
        attachments: AttachmentCopier | None = None,
    ) -> None:
        """`outage_pause`: the first wait after Jira or Slack was found away, doubling up to
        5 minutes (None: the deliveries' own back-off)."""
        self.uow = uow
        self.slack = slack
        self.writer_for = writer_for
        self.display_name = display_name
        self.worker_id = worker_id
        self.clock = clock
        self.lease = lease
        self.outage_pause = outage_pause
        self.attachments = attachments

    def run_once(self, limit: int = 50) -> int:
        done = 0
        while done < limit:
            claimed = self._claim()
            if claimed is None:
                break
            self._process(claimed)
            done += 1
        return done

    # -- claiming -------------------------------------------------------------------------------

    def _claim(self) -> _Claimed | None:
        now = self.clock()
        with self.uow() as work, exclusive_claims(work):
            rows = work.session.scalars(
                select(ProcessedDelivery)
                .where(
                    ProcessedDelivery.source == REPLY_SOURCE,
                    ProcessedDelivery.status == PENDING,
                    ProcessedDelivery.available_at <= now,
                    (ProcessedDelivery.claimed_until.is_(None))
                    | (ProcessedDelivery.claimed_until < now),
                )
                .order_by(ProcessedDelivery.id)
                .limit(_CANDIDATES)
                .with_for_update(skip_locked=True)
            ).all()
            waiting: set[str] = set()
            for row in rows:
                change = ReplyChange.from_json(row.payload or {})
                if change.thread_key in waiting or self._earlier_pending(work.session, row, change):
                    waiting.add(change.thread_key)
                    continue  # its thread's earlier reply goes first
                row.claimed_by = self.worker_id
                row.claimed_until = now + self.lease
                work.commit()
                return _Claimed(row.id, change)
        return None

    def _earlier_pending(
        self, session: Session, row: ProcessedDelivery, change: ReplyChange
    ) -> bool:
        earlier = session.scalars(
            select(ProcessedDelivery.id)
            .where(
                ProcessedDelivery.source == REPLY_SOURCE,
                ProcessedDelivery.status == PENDING,
                ProcessedDelivery.id < row.id,
                ProcessedDelivery.dedupe_key.startswith(change.thread_key, autoescape=True),
            )
            .limit(1)
        ).first()
        return earlier is not None

    # -- processing -----------------------------------------------------------------------------

    def _process(self, claimed: _Claimed) -> None:
        change = claimed.change
        error: Exception | None = None
        note: str | None = None
        try:
            if change.kind == "deleted":
                self._delete(change)
            else:
                self._write(change)
        except JiraNotConnected as exc:  # user mode: the author's own account writes
            error = exc
            note = (
                f"Your reply was not sent to Jira. {exc} Use `/jira connect`, then post it again."
            )
        except JiraError as exc:
            error = exc
            if not is_outage(exc):
                note = self._refusal_note(change, exc)
        except SlackError as exc:
            # A reply deleted (or a channel gone) before its turn: nothing left to send.
            gone = not is_outage(exc) and exc.error in GONE_ERRORS
            error = None if gone else exc
        except Exception as exc:  # one poisoned reply must not stop the others
            log.exception("syncing reply %s failed", change.dedupe_key)
            error = exc
        if note is not None:
            self._tell_author(change, note)
        self._settle(claimed.id, error, refused=note is not None)

    def _settle(self, row_id: int, error: Exception | None, *, refused: bool) -> None:
        now = self.clock()
        with self.uow() as work:
            row = work.session.get(ProcessedDelivery, row_id)
            if row is None:
                return
            row.claimed_by, row.claimed_until = None, None
            if error is None or refused:
                row.status, row.processed_at, row.outages = DONE, now, 0
                row.last_error = describe(error) if error is not None else None
            elif is_outage(error):
                row.outages += 1
                row.available_at = now + self._outage_delay(row.outages)
                row.last_error = describe(error)
                log.warning("a synced reply waits for Jira or Slack: %s", row.last_error)
            else:
                row.attempts += 1
                row.last_error = describe(error)
                row.available_at = now + timedelta(seconds=5 * 2**row.attempts)
                if row.attempts >= MAX_ATTEMPTS:
                    row.status, row.processed_at = FAILED, now
                    log.error("synced reply %s failed for good: %s", row.dedupe_key, row.last_error)
            work.commit()

    def _outage_delay(self, outages: int) -> timedelta:
        if self.outage_pause is None:
            return outage_delay(outages)
        seconds = self.outage_pause * 2.0 ** min(max(outages - 1, 0), 16)
        return min(timedelta(seconds=seconds), outage_delay(99))

    def _write(self, change: ReplyChange) -> None:
        """A reply posted, or edited: its comment made, or edited."""
        state = self._prepare(change)
        if state is None:
            return
        made = self._comment_for(change, state)
        if made is None:
            return
        comment_id, new = made
        self._finish(state[0], comment_id, change)
        if new and change.files and self.attachments is not None:
            self._attach(change, state[1])

    def _attach(self, change: ReplyChange, issue_id: str) -> None:
        """The reply's files on the issue; its author is told what was left out, and why."""
        assert self.attachments is not None
        writer = self.writer_for(change.team_id, change.user_id)
        report = self.attachments.copy(writer.jira, issue_id, change.team_id, change.files)
        if report.skipped:
            self._tell_author(
                change, f"Your reply is in Jira as a comment. {escape_mrkdwn(report.text())}"
            )

    def _comment_for(
        self, change: ReplyChange, state: tuple[int, str, str | None, str, bool]
    ) -> tuple[str, bool] | None:
        """The comment's id once it says what the reply says, and whether it is new."""
        _reply_id, issue_id, comment_id, permalink, unsure = state
        writer = self.writer_for(change.team_id, change.user_id)
        body = self.comment_body(change, permalink, credit=writer.credit)
        if comment_id is None and unsure:
            found = _comment_with(writer.jira, issue_id, permalink)
            comment_id = found.id if found is not None else None
        if comment_id is None:
            return writer.jira.add_comment(issue_id, body).id, True
        if change.kind == "edited":
            return writer.jira.update_comment(issue_id, comment_id, body).id, False
        return comment_id, False  # found: an earlier try made it

    def _prepare(self, change: ReplyChange) -> tuple[int, str, str | None, str, bool] | None:
        """The reply's row (made, with its permalink, before Jira is called); None when there
        is nothing to write: deleted already, an older edit, or the thread no longer synced."""
        with self.uow() as work:
            row = _reply_row(work.session, change)
            if row is not None:
                if row.deleted_at is not None:
                    return None
                if row.comment_id is not None and change.kind == "posted":
                    return None  # made already (from this reply, or from an edit that came first)
                newer = (row.edited_ts or "") >= change.edited_ts
                if change.kind == "edited" and newer and row.comment_id is not None:
                    return None  # a newer edit is in Jira already
                return row.id, row.issue_id, row.comment_id, row.permalink or "", True
            link = work.session.scalars(
                synced_link_query(change.team_id, change.channel_id, change.thread_ts).limit(1)
            ).first()
            if link is None:
                return None  # sync was turned off before this reply got its turn
            permalink = self.slack.get_permalink(change.channel_id, change.ts)
            row = _new_row(link, change, permalink, self.clock())
            work.session.add(row)
            work.commit()
            return row.id, row.issue_id, None, permalink, False

    def _finish(self, reply_id: int, comment_id: str, change: ReplyChange) -> None:
        with self.uow() as work:
            row = work.session.get(SyncedReply, reply_id)
            if row is None:
                return
            row.comment_id = comment_id
            if change.kind == "edited":
                row.edited_ts = change.edited_ts
            row.updated_at = self.clock()
            work.commit()

    def _delete(self, change: ReplyChange) -> None:
        with self.uow() as work:
            row = _reply_row(work.session, change)
            if row is None:
                link = work.session.scalars(
                    synced_link_query(change.team_id, change.channel_id, change.thread_ts).limit(1)
                ).first()
                if link is None:
                    return
                # Deleted before its comment was made: it never will be.
                row = _new_row(link, change, None, self.clock())
                row.deleted_at = self.clock()
                work.session.add(row)
                work.commit()
                return
            if row.deleted_at is not None:
                return
            reply_id, issue_id, comment_id = row.id, row.issue_id, row.comment_id
            permalink, author = row.permalink, row.slack_user_id
        jira = self.writer_for(change.team_id, author).jira
        if comment_id is None and permalink:
            found = _comment_with(jira, issue_id, permalink)
            comment_id = found.id if found is not None else None
        if comment_id is not None:
            with contextlib.suppress(JiraNotFound):  # gone in Jira already, or its issue
                jira.delete_comment(issue_id, comment_id)
        with self.uow() as work:
            gone = work.session.get(SyncedReply, reply_id)
            if gone is not None:
                gone.deleted_at = gone.updated_at = self.clock()
                work.commit()

    # -- the comment ----------------------------------------------------------------------------

    def comment_body(self, change: ReplyChange, permalink: str, *, credit: bool) -> str:
        """The reply in Jira markup (mentions as names), then who wrote it, then its permalink."""
        team = change.team_id
        names = {uid: self.display_name(team, uid) for uid in mentioned_users(change.text)}
        text = mrkdwn_to_wiki(change.text, user_names=names).strip()
        if len(text) > MAX_COMMENT_TEXT:
            text = text[: MAX_COMMENT_TEXT - 1] + "…"
        if credit:
            who = f"{self.display_name(change.team_id, change.user_id)} (via Slack)"
        else:
            who = "via Slack"
        tail = f"— {who}: {permalink}"
        return f"{text}\n\n{tail}" if text else tail

    def _refusal_note(self, change: ReplyChange, error: JiraError) -> str | None:
        """What the author is told when Jira refuses their reply; None for an edit or deletion
        of a comment that is gone (nothing left to keep in step)."""
        if change.kind != "posted" and isinstance(error, JiraNotFound):
            return None
        if isinstance(error, JiraAuthError):
            why = "Jira refused it (Connect's Jira account may not comment on it)"
        elif isinstance(error, JiraNotFound):
            why = "the issue no longer exists in Jira, or Connect can no longer see it"
        elif isinstance(error, JiraBadRequest):
            why = f"Jira refused it: {escape_mrkdwn(error.message[:300])}"
        else:
            why = escape_mrkdwn(error.message[:300])
        doing = "added to" if change.kind == "posted" else "updated in"
        return f":warning: Your reply was not {doing} Jira: {why}."

    def _tell_author(self, change: ReplyChange, note: str) -> None:
        author = change.user_id or self._author_of(change)
        if not author:
            return
        try:
            self.slack.post_ephemeral(
                change.channel_id, author, text=note, thread_ts=change.thread_ts
            )
        except SlackError as error:
            log.info("could not tell %s that Jira refused a reply: %s", author, error.error)

    def _author_of(self, change: ReplyChange) -> str | None:
        with self.uow() as work:
            row = _reply_row(work.session, change)
            return row.slack_user_id if row is not None else None


def _reply_row(session: Session, change: ReplyChange) -> SyncedReply | None:
    return session.scalars(
        select(SyncedReply).where(
            SyncedReply.team_id == change.team_id,
            SyncedReply.channel_id == change.channel_id,
            SyncedReply.message_ts == change.ts,
        )
    ).one_or_none()


def _new_row(
    link: JiraSlackLink, change: ReplyChange, permalink: str | None, now: datetime
) -> SyncedReply:
    return SyncedReply(
        team_id=change.team_id,
        channel_id=change.channel_id,
        message_ts=change.ts,
        thread_ts=change.thread_ts,
        issue_id=link.issue_id,
        issue_key=link.issue_key,
        slack_user_id=change.user_id,
        permalink=permalink[:512] if permalink else None,
        created_at=now,
        updated_at=now,
    )


def _comment_with(jira: JiraClient, issue_id: str, permalink: str) -> JiraComment | None:
    """The comment an earlier try made for this reply, if it did."""
    for comment in jira.issue_comments(issue_id):
        if trailing_permalink(comment.body) == permalink:
            return comment
    return None
