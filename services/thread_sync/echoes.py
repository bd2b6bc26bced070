"""Jira comments that came from a synced thread: Jira's webhook for one of them is not posted
back into that thread (SPEC §13). Known by the comment's id once it is stored, and before
that by the reply's permalink that ends the comment (stored before Jira is called), so an
echo that overtakes the bookkeeping is still recognised."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import SyncedReply
from services.jira_changes.events import CommentInfo

# The last thing in a synced comment: the reply's permalink (Slack's `/archives/…/p…` form).
_TRAILING_PERMALINK = re.compile(r"(https?://\S+/archives/\S+)\s*$")
_TAIL_CHARS = 600  # only the end of a body is looked at: linear, and bounded


def trailing_permalink(body: str) -> str | None:
    match = _TRAILING_PERMALINK.search(body[-_TAIL_CHARS:])
    return match.group(1).rstrip("]|") if match else None


def comment_origins(
    session: Session, team_id: str, comments: Iterable[CommentInfo]
) -> dict[str, tuple[str, str]]:
    """comment id → (channel, thread) for the comments that came from a synced thread."""
    wanted = {comment.id: trailing_permalink(comment.body) for comment in comments}
    if not wanted:
        return {}
    links = {link: comment_id for comment_id, link in wanted.items() if link}
    clauses = [SyncedReply.comment_id.in_(list(wanted))]
    if links:
        clauses.append(SyncedReply.permalink.in_(list(links)))
    rows = session.scalars(
        select(SyncedReply).where(SyncedReply.team_id == team_id, or_(*clauses))
    ).all()
    found: dict[str, tuple[str, str]] = {}
    for row in rows:
        comment_id = row.comment_id if row.comment_id in wanted else links.get(row.permalink or "")
        if comment_id is not None:
            found[comment_id] = (row.channel_id, row.thread_ts)
    return found
