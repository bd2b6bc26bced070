"""JIRA_PROJECTS as a wall for what Connect follows (SPEC §7, §11).

An issue moved to a project outside the wall, or whose project was taken out of it, is no
longer followed: its links are retired, its subscription threads closed, what was announced
of it forgotten and its unsent notifications dropped — before anything about it could be
announced, so nothing more is posted about it. The webhook path and the poller ask
`retire_if_outside` of every issue they are about to announce; `sweep` does the same for
everything stored, when the worker starts and in housekeeping (a project removed from
`JIRA_PROJECTS` between restarts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import JiraSlackLink, KnownIssue, NotificationOutbox, SubscriptionThread, utcnow
from models.delivery import HELD, PENDING
from services.issues.keys import project_of
from services.jira_changes.events import IssueSnapshot
from services.policy import ConnectPolicy
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

_IN_CHUNK = 500  # ids per SQL `IN (…)`


class ProjectWall:
    def __init__(self, policy: ConnectPolicy, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.policy = policy
        self.clock = clock

    def allows(self, project_key: str) -> bool:
        return self.policy.project_allowed(project_key)

    def retire_if_outside(self, session: Session, issue: IssueSnapshot) -> bool:
        """True (and the issue retired) when the issue is outside the wall. A delivery that
        does not name the project (Data Center comment events) is judged by what Connect
        stored of the issue."""
        if not self.policy.allowed_projects:
            return False
        project = issue.project_key or self._stored_project(session, issue.id)
        if not project or self.allows(project):
            return False
        self.retire(session, [issue.id], key=issue.key, project=project)
        return True

    def retire(
        self,
        session: Session,
        issue_ids: Iterable[str],
        *,
        key: str | None = None,
        project: str | None = None,
    ) -> int:
        """Stop following these issues in every workspace; the number of links retired.
        `key` and `project` (one issue) are stored on its known issues, so that a later delivery
        naming the issue by id alone is recognised as outside the wall."""
        ids = sorted(set(issue_ids))
        now = self.clock()
        retired = 0
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            for link in session.scalars(
                select(JiraSlackLink).where(
                    JiraSlackLink.issue_id.in_(chunk), JiraSlackLink.retired_at.is_(None)
                )
            ):
                link.retired_at = now
                retired += 1
            session.execute(
                delete(SubscriptionThread).where(SubscriptionThread.issue_id.in_(chunk))
            )
            unsent = session.scalars(
                select(NotificationOutbox)
                .where(
                    NotificationOutbox.issue_id.in_(chunk),
                    NotificationOutbox.status.in_((PENDING, HELD)),
                )
                .with_for_update(skip_locked=True)
            ).all()
            for row in unsent:
                session.delete(row)
            for known in session.scalars(
                select(KnownIssue).where(KnownIssue.issue_id.in_(chunk)).with_for_update()
            ):
                # Forgotten: were it to come back, nothing from outside the wall is compared
                # with (or told as) what was announced before.
                known.announced = {}
                known.summary = ""
                if key:
                    known.issue_key = key
                if project:
                    known.project_key = project
        session.flush()
        return retired

    def sweep(self, uow: UnitOfWorkFactory) -> int:
        """Retire what Connect still follows outside the wall; the number of issues retired."""
        if not self.policy.allowed_projects:
            return 0
        with uow() as work:
            session = work.session
            linked = session.execute(
                select(JiraSlackLink.issue_id, JiraSlackLink.issue_key)
                .where(JiraSlackLink.retired_at.is_(None))
                .distinct()
            ).all()
            threaded = session.execute(
                select(SubscriptionThread.issue_id, KnownIssue.project_key)
                .join(
                    KnownIssue,
                    (KnownIssue.team_id == SubscriptionThread.team_id)
                    & (KnownIssue.issue_id == SubscriptionThread.issue_id),
                )
                .distinct()
            ).all()
            outside = {issue_id for issue_id, key in linked if not self.allows(project_of(key))}
            outside |= {
                issue_id for issue_id, project in threaded if project and not self.allows(project)
            }
            if outside:
                retired = self.retire(session, outside)
                log.info(
                    "retired %d issue(s) outside JIRA_PROJECTS (%d link(s))",
                    len(outside),
                    retired,
                )
            work.commit()
        return len(outside)

    def _stored_project(self, session: Session, issue_id: str) -> str | None:
        project = session.scalars(
            select(KnownIssue.project_key)
            .where(KnownIssue.issue_id == issue_id, KnownIssue.project_key != "")
            .limit(1)
        ).first()
        if project:
            return project
        key = session.scalars(
            select(JiraSlackLink.issue_key).where(JiraSlackLink.issue_id == issue_id).limit(1)
        ).first()
        return project_of(key) if key else None
