"""What each person is DMed about (`/jira notify`, App Home): some of `assigned`, `mentions`,
`reported`, `watching`; `off` is none; no choice yet is `assigned,mentions` (SPEC §7)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from models import NotifyPreference
from models.users import DEFAULT_NOTICES, NOTICE_KINDS
from services.commands import UsageError
from services.unit_of_work import UnitOfWorkFactory

NOTIFY_USAGE = "notify [assigned,mentions,reported,watching | off]"
# Also understood when typed: what people call these in other tools.
_SYNONYMS = {
    "assignee": "assigned",
    "assign": "assigned",
    "mention": "mentions",
    "mentioned": "mentions",
    "reporter": "reported",
    "report": "reported",
    "watcher": "watching",
    "watch": "watching",
    "watched": "watching",
}


def parse_notices(text: str) -> tuple[str, ...]:
    """`assigned,mentions` (commas or spaces, any case) or `off` → the kinds, in order;
    anything else is a usage error naming what was not understood."""
    words = [w for w in text.replace(",", " ").lower().split() if w]
    if not words:
        raise UsageError("Say which notifications you want, or `off`.", NOTIFY_USAGE)
    if words in (["off"], ["none"]):
        return ()
    if words == ["all"]:
        return NOTICE_KINDS
    chosen: set[str] = set()
    unknown = []
    for word in words:
        kind = _SYNONYMS.get(word, word)
        if kind in NOTICE_KINDS:
            chosen.add(kind)
        else:
            unknown.append(word)
    if unknown:
        raise UsageError(
            f"Unknown notification kind “{unknown[0][:40]}”: choose from "
            f"{', '.join(NOTICE_KINDS)}, or `off`.",
            NOTIFY_USAGE,
        )
    return tuple(kind for kind in NOTICE_KINDS if kind in chosen)


class NotifyPreferences:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    def chosen(self, team_id: str, slack_user_id: str) -> tuple[str, ...]:
        with self.uow() as work:
            row = work.session.scalars(_query(team_id, slack_user_id)).one_or_none()
            return row.chosen if row is not None else DEFAULT_NOTICES

    def choose(self, team_id: str, slack_user_id: str, kinds: Iterable[str]) -> tuple[str, ...]:
        """Replace the person's choice; what is stored now."""
        wanted = set(kinds)
        ordered = tuple(kind for kind in NOTICE_KINDS if kind in wanted)
        try:
            self._store(team_id, slack_user_id, ordered)
        except IntegrityError:  # another process stored the first choice meanwhile
            self._store(team_id, slack_user_id, ordered)
        return ordered

    def switch(self, team_id: str, slack_user_id: str, kind: str, on: bool) -> tuple[str, ...]:
        """One kind on or off, the others as they are (App Home's switches)."""
        if kind not in NOTICE_KINDS:
            raise ValueError(f"not a notification kind: {kind!r}")
        current = set(self.chosen(team_id, slack_user_id))
        current = current | {kind} if on else current - {kind}
        return self.choose(team_id, slack_user_id, current)

    def _store(self, team_id: str, slack_user_id: str, kinds: tuple[str, ...]) -> None:
        with self.uow() as work:
            row = work.session.scalars(_query(team_id, slack_user_id)).one_or_none()
            if row is None:
                row = NotifyPreference(team_id=team_id, slack_user_id=slack_user_id)
                work.session.add(row)
            row.kinds = ",".join(kinds)
            work.commit()


def _query(team_id: str, slack_user_id: str) -> Select[NotifyPreference]:
    return select(NotifyPreference).where(
        NotifyPreference.team_id == team_id, NotifyPreference.slack_user_id == slack_user_id
    )
