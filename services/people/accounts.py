"""Which Jira account a Slack user is: the one with the e-mail of their Slack profile (SPEC §11).

Connect acts in Jira with its own account and credits the person, so a wrong mapping puts
someone else's name on a change. The only way into a mapping is therefore the e-mail Slack
shows on the user's own profile; nothing here lets anyone pick an account.

A stored `UserLink` is trusted for `refresh_after`, then re-derived from the e-mail. A user
who runs `disconnect` keeps a row with an empty `jira_account_id`: an opt-out that holds
until they run `connect` again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.exc import IntegrityError

from clients.jira_client import JiraClient, JiraUnavailable, JiraUser
from clients.slack_client import SlackClient, SlackError, SlackUnavailable, SlackUser
from models.base import utcnow
from models.jira_identity import JiraUserToken
from models.users import UserLink
from services.issues.cache import TTLCache
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

# The stored account id of a user who ran `disconnect` (the table has no opt-out column).
OPTED_OUT = ""
# Slack's answers for a user id it does not know (or may not show to this app).
UNKNOWN_USER_ERRORS = frozenset({"user_not_found", "user_not_visible"})
# After Jira or Slack failed a refresh, the stale link is served this long before retrying.
REFRESH_RETRY = timedelta(minutes=1)

_Key = tuple[str, str]  # (team_id, slack_user_id)


class ConnectStatus(StrEnum):
    CONNECTED = "connected"
    NO_EMAIL = "no_email"  # no e-mail visible: the app needs users:read.email
    NO_JIRA_ACCOUNT = "no_jira_account"  # no active Jira account has that e-mail
    AMBIGUOUS = "ambiguous"  # several active Jira accounts have it
    NOT_A_PERSON = "not_a_person"  # a bot, a deactivated or an unknown Slack user


@dataclass(frozen=True, slots=True)
class ConnectResult:
    status: ConnectStatus
    jira_user: JiraUser | None = None
    email: str | None = None  # the Slack profile's e-mail the match was tried with

    @property
    def connected(self) -> bool:
        return self.status is ConnectStatus.CONNECTED


@dataclass(frozen=True, slots=True)
class Mapping:
    """A stored link between a Slack user and a Jira account, detached from the database."""

    slack_user_id: str
    jira_account_id: str
    jira_display_name: str
    email: str
    verified_at: datetime

    @property
    def jira_user(self) -> JiraUser:
        return JiraUser(self.jira_account_id, self.jira_display_name, self.email or None)


class UserMapping:
    """Maps Slack users to Jira accounts by e-mail; safe to share between worker threads."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        slack: SlackClient,
        jira: JiraClient,
        *,
        refresh_after: timedelta = timedelta(days=1),
        clock: Callable[[], datetime] = utcnow,
        miss_ttl: timedelta = timedelta(minutes=5),
        profile_ttl: timedelta = timedelta(hours=1),
        email_matching: bool = True,
    ) -> None:
        # False in JIRA_AUTH_MODE=user (SPEC §12): a person's account is only the one they
        # granted (services.people.jira_identity stores it here); no e-mail makes anyone one.
        self.email_matching = email_matching
        self._uow = uow
        self._slack = slack
        self._jira = jira
        self._refresh_after = refresh_after
        self._clock = clock

        # Users known to have no usable Jira account, so each message does not cost a lookup.
        def seconds() -> float:
            return clock().timestamp()

        self._misses: TTLCache[_Key, bool] = TTLCache(miss_ttl.total_seconds(), clock=seconds)
        self._refresh_paused: TTLCache[_Key, bool] = TTLCache(
            REFRESH_RETRY.total_seconds(), clock=seconds
        )
        self._profiles: TTLCache[_Key, SlackUser] = TTLCache(
            profile_ttl.total_seconds(), clock=seconds
        )
        self._key_locks: dict[_Key, threading.Lock] = {}
        self._key_locks_guard = threading.Lock()

    # -- public API -------------------------------------------------------------------------

    def jira_user_for(self, team_id: str, slack_user_id: str) -> JiraUser | None:
        """The Jira account Connect credits for this Slack user, or None.

        A link verified within `refresh_after` is used as stored; otherwise the e-mail of the
        Slack profile is looked up in Jira again. While Jira or Slack is unavailable a stale
        link is still used; without one, `JiraUnavailable`/`SlackUnavailable` propagates.
        """
        key = (team_id, slack_user_id)
        if not self.email_matching:
            return self._granted(key)
        known, user = self._known(key, self._load(key))
        if known:
            return user
        with self._lock_for(key):
            stored = self._load(key)  # another thread may have settled it meanwhile
            known, user = self._known(key, stored)
            if known:
                return user
            return self._refresh(key, stored)

    def connect(self, team_id: str, slack_user_id: str) -> ConnectResult:
        """Confirm or refresh the mapping now, from the e-mail of the user's own Slack profile.

        Ignores every cache and lifts an opt-out left by `disconnect`. When no account
        matches, a previous link is forgotten. Outages propagate and change nothing.
        """
        key = (team_id, slack_user_id)
        with self._lock_for(key):
            result = self._resolve(key)
            self._record(key, result, lift_opt_out=True)
            return result

    def whoami(self, team_id: str, slack_user_id: str) -> Mapping | None:
        """The stored link, as it is (no Slack or Jira call); None when there is none."""
        stored = self._load((team_id, slack_user_id))
        return stored if stored is not None and stored.jira_account_id != OPTED_OUT else None

    def disconnect(self, team_id: str, slack_user_id: str) -> bool:
        """Forget the link and opt out: True when there was a link.

        From then on `jira_user_for` answers None (Connect stops crediting or acting as that
        account) until the user runs `connect` again; it is not re-derived from the e-mail.
        """
        key = (team_id, slack_user_id)
        with self._lock_for(key):
            had_link = self._opt_out(key)
            self._misses.discard(key)
            self._refresh_paused.discard(key)
            return had_link

    def display_name_for(self, team_id: str, slack_user_id: str) -> str:
        """The name to credit ("by Alice via Slack"): Slack's real or display name, else the id."""
        key = (team_id, slack_user_id)
        profile = self._profiles.lookup(key)[1]
        if profile is None:
            try:
                profile = self._fetch_profile(key)
            except SlackError as error:
                log.info("No Slack name for %s/%s (%s)", team_id, slack_user_id, error.error)
                return slack_user_id
        return profile.real_name or profile.display_name or profile.name or slack_user_id

    # -- resolving --------------------------------------------------------------------------

    def _known(self, key: _Key, stored: Mapping | None) -> tuple[bool, JiraUser | None]:
        """(True, answer) when no lookup is due: opted out, fresh, a recent miss or outage."""
        if stored is None:
            return bool(self._misses.lookup(key)[1]), None
        if stored.jira_account_id == OPTED_OUT:
            return True, None
        if self._fresh(stored) or self._refresh_paused.lookup(key)[1]:
            return True, stored.jira_user
        return False, None

    def _refresh(self, key: _Key, stored: Mapping | None) -> JiraUser | None:
        try:
            result = self._resolve(key)
        except (JiraUnavailable, SlackUnavailable) as error:
            if stored is None:
                raise
            log.warning(
                "Keeping the Jira link of %s/%s verified at %s: refresh failed (%s)",
                *key,
                stored.verified_at.isoformat(),
                error,
            )
            self._refresh_paused.put(key, True)
            return stored.jira_user
        applied = self._record(key, result, lift_opt_out=False)
        return result.jira_user if applied else None

    def _resolve(self, key: _Key) -> ConnectResult:
        """What the Slack profile's e-mail matches in Jira now; touches no database."""
        try:
            profile = self._fetch_profile(key)
        except SlackError as error:
            if error.error not in UNKNOWN_USER_ERRORS:
                raise
            return ConnectResult(ConnectStatus.NOT_A_PERSON)
        if profile.is_bot or profile.deleted:
            return ConnectResult(ConnectStatus.NOT_A_PERSON)
        email = (profile.email or "").strip()
        if not email:
            return ConnectResult(ConnectStatus.NO_EMAIL)
        wanted = email.casefold()
        # Jira's user search is fuzzy on Cloud: only an account showing this e-mail counts; a
        # hidden e-mail proves nothing (a near address would match it too).
        matches = {
            user.account_id: user
            for user in self._jira.find_users_by_email(email)
            if user.active and user.email and user.email.strip().casefold() == wanted
        }
        if not matches:
            return ConnectResult(ConnectStatus.NO_JIRA_ACCOUNT, email=email)
        if len(matches) > 1:
            return ConnectResult(ConnectStatus.AMBIGUOUS, email=email)
        (match,) = matches.values()
        linked = JiraUser(match.account_id, match.display_name, email)
        return ConnectResult(ConnectStatus.CONNECTED, jira_user=linked, email=email)

    def _fetch_profile(self, key: _Key) -> SlackUser:
        profile = self._slack.user_info(key[1])
        self._profiles.put(key, profile)
        return profile

    def _record(self, key: _Key, result: ConnectResult, *, lift_opt_out: bool) -> bool:
        """Store the outcome of a resolution; False when an opt-out kept it from applying."""
        applied = self._store(key, result.jira_user, lift_opt_out=lift_opt_out)
        self._refresh_paused.discard(key)
        if result.connected and applied:
            self._misses.discard(key)
        elif not result.connected:
            self._misses.put(key, True)
        return applied

    # -- storage ----------------------------------------------------------------------------

    def _granted(self, key: _Key) -> JiraUser | None:
        """User mode: the account of the person's own grant; a link left from e-mail matching
        (before the mode changed) makes nobody anybody."""
        with self._uow() as work:
            row = work.session.execute(
                select(JiraUserToken.jira_account_id, JiraUserToken.jira_display_name).where(
                    JiraUserToken.team_id == key[0], JiraUserToken.slack_user_id == key[1]
                )
            ).one_or_none()
        return JiraUser(row[0], row[1]) if row is not None else None

    def _load(self, key: _Key) -> Mapping | None:
        with self._uow() as work:
            row = work.session.scalars(_link_query(key)).one_or_none()
            return _mapping(row) if row is not None else None

    def _store(self, key: _Key, user: JiraUser | None, *, lift_opt_out: bool) -> bool:
        """Link `key` to `user`, or forget the link when None; False when an opt-out stays.

        Retried once when another process inserted the same user's row in between.
        """
        try:
            return self._store_once(key, user, lift_opt_out=lift_opt_out)
        except IntegrityError:
            return self._store_once(key, user, lift_opt_out=lift_opt_out)

    def _store_once(self, key: _Key, user: JiraUser | None, *, lift_opt_out: bool) -> bool:
        now = self._clock()
        with self._uow() as work:
            row = work.session.scalars(_link_query(key)).one_or_none()
            if row is not None and row.jira_account_id == OPTED_OUT and not lift_opt_out:
                return False
            if user is None:
                work.session.execute(delete(UserLink).where(*_link_filter(key)))
            else:
                if row is None:
                    row = UserLink(team_id=key[0], slack_user_id=key[1])
                    work.session.add(row)
                if row.jira_account_id != user.account_id:
                    row.linked_at = now
                row.jira_account_id = user.account_id
                row.jira_display_name = user.display_name
                row.email = user.email or ""
                row.verified_at = now
            work.commit()
            return True

    def _opt_out(self, key: _Key) -> bool:
        """Replace the link with an opt-out row; True when there was a link."""
        try:
            return self._opt_out_once(key)
        except IntegrityError:
            return self._opt_out_once(key)

    def _opt_out_once(self, key: _Key) -> bool:
        now = self._clock()
        with self._uow() as work:
            row = work.session.scalars(_link_query(key)).one_or_none()
            had_link = row is not None and row.jira_account_id != OPTED_OUT
            if row is None:
                row = UserLink(team_id=key[0], slack_user_id=key[1], linked_at=now)
                work.session.add(row)
            row.jira_account_id, row.jira_display_name, row.email = OPTED_OUT, "", ""
            row.verified_at = now
            work.commit()
            return had_link

    # -- helpers ----------------------------------------------------------------------------

    def _fresh(self, stored: Mapping) -> bool:
        return self._clock() - stored.verified_at < self._refresh_after

    def _lock_for(self, key: _Key) -> threading.Lock:
        """One lock per user: concurrent lookups of one user cost one Slack and Jira call."""
        with self._key_locks_guard:
            return self._key_locks.setdefault(key, threading.Lock())


def _link_filter(key: _Key) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (UserLink.team_id == key[0], UserLink.slack_user_id == key[1])


def _link_query(key: _Key) -> Select[UserLink]:
    return select(UserLink).where(*_link_filter(key))


def _mapping(row: UserLink) -> Mapping:
    return Mapping(
        slack_user_id=row.slack_user_id,
        jira_account_id=row.jira_account_id,
        jira_display_name=row.jira_display_name,
        email=row.email,
        verified_at=row.verified_at,
    )
