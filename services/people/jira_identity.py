"""Per-person Jira identity (SPEC §12, `JIRA_AUTH_MODE=user`): each person connects their own
Jira account, and what Connect does for them runs with their token.

- Sign-in: `start_url` stores a random state (single use, `STATE_TTL`, bound to the Slack team
  and user) and answers the `/jira/oauth/start` URL the connect button opens; `authorize_url`
  turns a state still good into the provider's consent URL; `complete` spends the state (a
  forged, reused or expired one is `BadState`, and no token is asked for), exchanges the
  code, finds the site's API base, asks Jira who the person is and stores the tokens
  encrypted (the web layer then DMs "Connected as …").
- Acting: `client_for` is a `JiraClient` calling Jira as that person. Its access token is
  kept in memory until `REFRESH_MARGIN` before it expires; a refresh takes the person's token
  row with SELECT … FOR UPDATE (BEGIN IMMEDIATE on SQLite), reads the refresh token, calls
  the provider and stores the ROTATED refresh token in that same transaction, so two threads
  or two processes never refresh one grant at once, and a process that waited finds the
  token the other stored instead of spending the old refresh token again.
- A grant Jira refuses (revoked, expired): the row is deleted in the transaction that found
  it dead, and the person is told once by DM to reconnect; what they were doing answers
  `JiraNotConnected`, which handlers turn into the connect button. Nobody else is touched.
- Data Center without an OAuth client: `save_personal_token` checks a pasted personal access
  token with `myself` and stores it encrypted the same way.

Tokens never reach a log line: they are SecretStr until the moment they are sent.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete, select

from clients.jira_client import JiraClient, JiraUser
from clients.jira_oauth import JiraOAuth, OAuthInvalidGrant, OAuthTokens
from clients.slack_client import SlackClient, SlackError
from clients.slack_teams import team_scope
from models.base import utcnow
from models.jira_identity import JiraOAuthState, JiraUserToken
from models.users import UserLink
from services.people.person_jira import JiraNotConnected, PersonJira
from services.people.token_cipher import TokenCipher
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
# An access token is refreshed this long before Jira would refuse it.
REFRESH_MARGIN = timedelta(minutes=2)
OAUTH, PERSONAL_TOKEN = "oauth", "pat"
START_PATH = "/jira/oauth/start"
CALLBACK_PATH = "/jira/oauth/callback"
# Where a Jira Cloud user removes Connect's access (Atlassian has no revoke endpoint for 3LO).
ATLASSIAN_APPS_URL = "https://id.atlassian.com/manage-profile/apps"
_MAX_CACHED = 4096

_Key = tuple[str, str]  # (team_id, slack_user_id)
ClientFactory = Callable[[str, SecretStr], JiraClient]  # (API base URL, bearer token)


class BadState(Exception):
    """A sign-in state that is missing, forged, already used or expired."""


@dataclass(frozen=True, slots=True)
class PendingCommand:
    """What a person tried before connecting, offered again once they are."""

    text: str
    channel_id: str

    def to_json(self) -> str:
        return json.dumps({"text": self.text, "channel_id": self.channel_id})

    @classmethod
    def from_json(cls, raw: str | None) -> PendingCommand | None:
        try:
            data = json.loads(raw or "")
            return cls(str(data["text"]), str(data["channel_id"]))
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True, slots=True)
class JiraGrant:
    """Whose Jira account a person connected, without its tokens."""

    team_id: str
    slack_user_id: str
    account_id: str
    display_name: str
    kind: str
    connected_at: datetime

    @property
    def jira_user(self) -> JiraUser:
        return JiraUser(self.account_id, self.display_name)


@dataclass(frozen=True, slots=True)
class Connected:
    grant: JiraGrant
    pending: PendingCommand | None


@dataclass(frozen=True, slots=True)
class _Access:
    base_url: str
    token: SecretStr
    expires_at: datetime | None
    client: JiraClient


class JiraIdentity:
    """Thread-safe; one per process (it holds the access tokens in memory)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cipher: TokenCipher,
        *,
        oauth: JiraOAuth | None,
        make_client: ClientFactory,
        site_url: str,
        public_url: str,
        slack: SlackClient | None = None,
        clock: Callable[[], datetime] = utcnow,
        cloud: bool = True,
    ) -> None:
        self._uow = uow
        self._cipher = cipher
        self.oauth = oauth
        self._make_client = make_client
        self._site_url = site_url.rstrip("/")
        self._public_url = public_url.rstrip("/")
        self._slack = slack
        self._clock = clock
        self.cloud = cloud
        self._cache: dict[_Key, _Access] = {}
        self._cache_guard = threading.Lock()
        self._key_locks: dict[_Key, threading.Lock] = {}

    @property
    def redirect_uri(self) -> str:
        return f"{self._public_url}{CALLBACK_PATH}"

    @property
    def uses_oauth(self) -> bool:
        """False on Data Center without an OAuth client: people paste a personal token."""
        return self.oauth is not None

    # -- signing in ---------------------------------------------------------------------------

    def start_url(
        self, team_id: str, slack_user_id: str, pending: PendingCommand | None = None
    ) -> str:
        """The URL of the connect button: a new state, good for STATE_TTL."""
        state = secrets.token_urlsafe(32)
        now = self._clock()
        with self._uow() as work:
            work.session.add(
                JiraOAuthState(
                    state=state,
                    team_id=team_id,
                    slack_user_id=slack_user_id,
                    created_at=now,
                    expires_at=now + STATE_TTL,
                    pending=pending.to_json() if pending else None,
                )
            )
            work.commit()
        return f"{self._public_url}{START_PATH}?state={state}"

    def authorize_url(self, state: str) -> str:
        """Where /jira/oauth/start sends the browser; BadState when the state is not good."""
        if self.oauth is None or not state or len(state) > 64:
            raise BadState()
        with self._uow() as work:
            row = work.session.get(JiraOAuthState, state)
            if row is None or row.expires_at <= self._clock():
                raise BadState()
        return self.oauth.authorize_url(state=state, redirect_uri=self.redirect_uri)

    def complete(self, state: str, code: str) -> Connected:
        """Spend the state, exchange the code and store the grant; BadState before any token
        request when the state is not good."""
        if self.oauth is None:
            raise BadState()
        team_id, user_id, pending = self._spend_state(state)
        now = self._clock()
        tokens = self.oauth.exchange_code(code, redirect_uri=self.redirect_uri, now=now)
        token = tokens.access_token
        base_url = self.oauth.api_base_url(token.get_secret_value(), self._site_url)
        me = self._make_client(base_url, token).myself()
        grant = self._store(team_id, user_id, OAUTH, base_url, me, tokens)
        return Connected(grant, pending)

    def cancel(self, state: str) -> None:
        """Spend a state whose sign-in was declined or broken off."""
        if state and len(state) <= 64:
            with self._uow() as work:
                work.session.execute(delete(JiraOAuthState).where(JiraOAuthState.state == state))
                work.commit()

    def tell(self, team_id: str, user_id: str, text: str, blocks: list[Any] | None = None) -> None:
        """A DM to the person about their Jira connection (never raises for Slack)."""
        self._tell(team_id, user_id, text, blocks)

    def save_personal_token(self, team_id: str, slack_user_id: str, token: SecretStr) -> JiraGrant:
        """Data Center: a personal access token, checked with `myself`, stored encrypted.
        Raises JiraAuthError when Jira refuses it."""
        me = self._make_client(self._site_url, token).myself()
        tokens = OAuthTokens(access_token=token, refresh_token=None, expires_at=None)
        return self._store(team_id, slack_user_id, PERSONAL_TOKEN, self._site_url, me, tokens)

    def whoami(self, team_id: str, slack_user_id: str) -> JiraGrant | None:
        with self._uow() as work:
            row = work.session.scalars(_token_query((team_id, slack_user_id))).one_or_none()
            return _grant(row) if row is not None else None

    def disconnect(self, team_id: str, slack_user_id: str) -> tuple[bool, bool]:
        """Delete the person's tokens (revoking them where the provider can):
        (had a grant, revoked at the provider)."""
        key = (team_id, slack_user_id)
        with self._lock_for(key), self._uow() as work:
            row = work.session.scalars(_token_query(key).with_for_update()).one_or_none()
            if row is None:
                return False, False
            revoked = False
            if self.oauth is not None and row.kind == OAUTH:
                stored = row.refresh_token_encrypted or row.access_token_encrypted
                try:
                    revoked = self.oauth.revoke(self._cipher.decrypt(stored))
                except Exception as error:  # the tokens go anyway
                    log.warning(
                        "Revoking a Jira grant failed (%s); deleting it anyway",
                        type(error).__name__,
                    )
            _forget(work.session, key)
            work.commit()
        self._drop(key)
        return True, revoked

    def forget_team(self, team_id: str) -> int:
        """Connect was uninstalled from the workspace: every person's tokens (and the account
        links they made) and the sign-ins under way are deleted. The number of grants."""
        with self._uow() as work:
            people = list(
                work.session.scalars(
                    select(JiraUserToken.slack_user_id).where(JiraUserToken.team_id == team_id)
                )
            )
            for user_id in people:
                _forget(work.session, (team_id, user_id))
            work.session.execute(delete(JiraOAuthState).where(JiraOAuthState.team_id == team_id))
            work.commit()
        with self._cache_guard:
            for user_id in people:
                self._cache.pop((team_id, user_id), None)
        log.info("Deleted the Jira grants of %d person(s) of workspace %s", len(people), team_id)
        return len(people)

    def reencrypt(self) -> int:
        """Re-encrypt every person's tokens with the first key; the number of grants."""
        with self._uow() as work:
            rows = list(work.session.scalars(select(JiraUserToken).with_for_update()))
            for row in rows:
                row.access_token_encrypted = self._cipher.rotate(row.access_token_encrypted)
                if row.refresh_token_encrypted:
                    row.refresh_token_encrypted = self._cipher.rotate(row.refresh_token_encrypted)
            work.commit()
        with self._cache_guard:
            self._cache.clear()
        return len(rows)

    # -- acting as the person -------------------------------------------------------------------

    def client_for(self, team_id: str, slack_user_id: str) -> JiraClient:
        """A JiraClient acting as the person; JiraNotConnected when they have no grant."""
        key = (team_id, slack_user_id)
        self._access(key)  # not connected: raise now, before anything is done
        return PersonJira(self, key)

    def is_connected(self, team_id: str, slack_user_id: str) -> bool:
        return self.whoami(team_id, slack_user_id) is not None

    def access_client(self, key: _Key, *, failed: SecretStr | None = None) -> _Access:
        """The client of the person's current token; `failed` is a token Jira just refused
        (401), which is refreshed unless another worker already has."""
        return self._access(key, failed=failed)

    def _access(self, key: _Key, *, failed: SecretStr | None = None) -> _Access:
        cached = self._cached(key)
        if cached is not None and failed is None and self._fresh(cached.expires_at):
            return cached
        with self._lock_for(key):
            cached = self._cached(key)
            if cached is not None and self._usable(cached.token, cached.expires_at, failed):
                return cached
            return self._load_or_refresh(key, failed)

    def _load_or_refresh(self, key: _Key, failed: SecretStr | None) -> _Access:
        lost = False
        with self._uow() as work:
            row = work.session.scalars(_token_query(key).with_for_update()).one_or_none()
            if row is None:
                self._drop(key)
                raise JiraNotConnected()
            token = SecretStr(self._cipher.decrypt(row.access_token_encrypted))
            if self._usable(token, row.access_expires_at, failed):
                return self._remember(key, row.api_base_url, token, row.access_expires_at)
            refresh = row.refresh_token_encrypted
            if self.oauth is None or refresh is None:
                lost = True  # a personal token Jira refuses, or a grant without refresh
            else:
                try:
                    tokens = self.oauth.refresh(self._cipher.decrypt(refresh), now=self._clock())
                except OAuthInvalidGrant:
                    lost = True
                else:
                    row.access_token_encrypted = self._cipher.encrypt(
                        tokens.access_token.get_secret_value()
                    )
                    if tokens.refresh_token is not None:  # rotated: the old one is spent
                        row.refresh_token_encrypted = self._cipher.encrypt(
                            tokens.refresh_token.get_secret_value()
                        )
                    row.access_expires_at = tokens.expires_at
                    row.refreshed_at = self._clock()
                    base_url = row.api_base_url
                    work.commit()
                    return self._remember(key, base_url, tokens.access_token, tokens.expires_at)
            if lost:
                _forget(work.session, key)
                work.commit()
        self._drop(key)
        log.info("The Jira grant of %s/%s was refused; asking them to reconnect", *key)
        self._tell(
            key[0],
            key[1],
            ":warning: Your Jira connection has expired or was revoked, so Connect can no "
            "longer act as you in Jira. Run `/jira connect` to connect again.",
        )
        raise JiraNotConnected(reconnect=True)

    # -- helpers --------------------------------------------------------------------------------

    def _spend_state(self, state: str) -> tuple[str, str, PendingCommand | None]:
        if not state or len(state) > 64:
            raise BadState()
        with self._uow() as work:
            row = work.session.get(JiraOAuthState, state, with_for_update=True)
            if row is None:
                raise BadState()
            found = (row.team_id, row.slack_user_id, row.pending, row.expires_at)
            work.session.delete(row)  # single use, good or expired
            work.commit()
        team_id, user_id, pending, expires_at = found
        if expires_at <= self._clock():
            raise BadState()
        return team_id, user_id, PendingCommand.from_json(pending)

    def _store(
        self,
        team_id: str,
        user_id: str,
        kind: str,
        base_url: str,
        me: JiraUser,
        tokens: OAuthTokens,
    ) -> JiraGrant:
        key = (team_id, user_id)
        now = self._clock()
        with self._lock_for(key), self._uow() as work:
            row = work.session.scalars(_token_query(key).with_for_update()).one_or_none()
            if row is None:
                row = JiraUserToken(team_id=team_id, slack_user_id=user_id)
                work.session.add(row)
            row.kind, row.api_base_url = kind, base_url
            row.jira_account_id, row.jira_display_name = me.account_id, me.display_name
            row.access_token_encrypted = self._cipher.encrypt(
                tokens.access_token.get_secret_value()
            )
            row.refresh_token_encrypted = (
                self._cipher.encrypt(tokens.refresh_token.get_secret_value())
                if tokens.refresh_token
                else None
            )
            row.access_expires_at = tokens.expires_at
            row.scopes = " ".join(tokens.scopes)
            row.connected_at, row.refreshed_at = now, now
            _link_user(work.session, key, me, now)
            work.commit()
            grant = _grant(row)
        self._drop(key)
        return grant

    def _tell(self, team_id: str, user_id: str, text: str, blocks: list[Any] | None = None) -> None:
        if self._slack is None:
            return
        try:
            with team_scope(team_id):
                channel = self._slack.open_dm(user_id)
                self._slack.post_message(channel, text=text, blocks=blocks)
        except SlackError as error:
            log.warning(
                "Could not DM %s/%s about their Jira connection (%s)", team_id, user_id, error.error
            )

    def _fresh(self, expires_at: datetime | None) -> bool:
        return expires_at is None or expires_at - REFRESH_MARGIN > self._clock()

    def _usable(
        self, token: SecretStr, expires_at: datetime | None, failed: SecretStr | None
    ) -> bool:
        refused = failed is not None and token.get_secret_value() == failed.get_secret_value()
        return not refused and self._fresh(expires_at)

    def _cached(self, key: _Key) -> _Access | None:
        with self._cache_guard:
            return self._cache.get(key)

    def _remember(
        self, key: _Key, base_url: str, token: SecretStr, expires_at: datetime | None
    ) -> _Access:
        access = _Access(base_url, token, expires_at, self._make_client(base_url, token))
        with self._cache_guard:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[key] = access
        return access

    def _drop(self, key: _Key) -> None:
        with self._cache_guard:
            self._cache.pop(key, None)

    def _lock_for(self, key: _Key) -> threading.Lock:
        with self._cache_guard:
            return self._key_locks.setdefault(key, threading.Lock())


def _token_query(key: _Key) -> Any:
    return select(JiraUserToken).where(
        JiraUserToken.team_id == key[0], JiraUserToken.slack_user_id == key[1]
    )


def _forget(session: Any, key: _Key) -> None:
    """The person's tokens and the account link they made."""
    session.execute(
        delete(JiraUserToken).where(
            JiraUserToken.team_id == key[0], JiraUserToken.slack_user_id == key[1]
        )
    )
    session.execute(
        delete(UserLink).where(UserLink.team_id == key[0], UserLink.slack_user_id == key[1])
    )


def _link_user(session: Any, key: _Key, me: JiraUser, now: datetime) -> None:
    """The granted account is the person's Jira account (assignments, mentions, DMs)."""
    link = session.scalars(
        select(UserLink).where(UserLink.team_id == key[0], UserLink.slack_user_id == key[1])
    ).one_or_none()
    if link is None:
        link = UserLink(team_id=key[0], slack_user_id=key[1], linked_at=now)
        session.add(link)
    link.jira_account_id, link.jira_display_name = me.account_id, me.display_name
    link.email = me.email or ""
    link.verified_at = now


def _grant(row: JiraUserToken) -> JiraGrant:
    return JiraGrant(
        team_id=row.team_id,
        slack_user_id=row.slack_user_id,
        account_id=row.jira_account_id,
        display_name=row.jira_display_name,
        kind=row.kind,
        connected_at=row.connected_at,
    )
