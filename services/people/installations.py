"""Workspaces Connect is installed in (multi-workspace OAuth mode), their encrypted bot tokens,
the OAuth `state` of installs under way, and the clean-up when a workspace uninstalls.

An install's `state` is sealed, not stored: `EXPIRES.NONCE.MAC`, an HMAC over the expiry and
a random nonce, so that opening /slack/install (which anybody can) writes nothing. The
callback checks the seal and the expiry, and that the state was not spent; a state is spent
(its nonce stored until it expires) only once Slack has accepted the code that came with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from models import Base, SlackInstallation, SlackOAuthState, utcnow
from services.issues.cache import TTLCache
from services.people.token_cipher import TokenCipher
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
# Each Slack request needs its workspace's bot; a re-install or uninstall elsewhere shows
# within this many seconds (a refused token is forgotten at once by the Slack client).
BOT_CACHE_TTL = 30.0
_SEALED_STATE = re.compile(r"([0-9]{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class InstalledBot:
    team_id: str
    bot_token: SecretStr
    enterprise_id: str | None = None
    team_name: str | None = None
    app_id: str | None = None
    bot_id: str | None = None
    bot_user_id: str | None = None
    bot_scopes: tuple[str, ...] = ()
    bot_refresh_token: SecretStr | None = None
    bot_token_expires_at: datetime | None = None
    installer_user_id: str | None = None
    is_enterprise_install: bool = False
    installed_at: datetime | None = None


class Installations:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cipher: TokenCipher,
        *,
        clock: Callable[[], datetime] = utcnow,
        on_removed: Callable[[str], None] | None = None,
        state_secret: bytes | None = None,
    ) -> None:
        """`state_secret` seals install states; processes that share a database share it
        (one made up otherwise, good for this process only)."""
        self.uow = uow
        self.cipher = cipher
        self.clock = clock
        self._state_key = hashlib.sha256(
            b"connect-slack-oauth-state:" + (state_secret or secrets.token_bytes(32))
        ).digest()
        self.on_removed = on_removed
        self._bots: TTLCache[tuple[str, str], InstalledBot] = TTLCache(BOT_CACHE_TTL)

    def cached(self, team_id: str | None, enterprise_id: str | None = None) -> InstalledBot | None:
        """`find`, remembered for a few seconds (absent workspaces are asked again each time)."""
        key = (team_id or "", enterprise_id or "")
        hit, bot = self._bots.lookup(key)
        if hit:
            return bot
        bot = self.find(team_id, enterprise_id)
        if bot is not None:
            self._bots.put(key, bot)
        return bot

    def _removed(self, team_id: str | None) -> None:
        for key in [k for k in self._bots.key_list() if k[0] == (team_id or "")]:
            self._bots.discard(key)
        if team_id and self.on_removed is not None:
            self.on_removed(team_id)

    # -- installations ------------------------------------------------------------------------

    def save(self, bot: InstalledBot) -> None:
        """Store (or replace, on a re-install) the workspace's bot, its tokens encrypted."""
        with self.uow() as work:
            row = work.session.scalars(
                select(SlackInstallation).where(
                    SlackInstallation.team_id == bot.team_id,
                    SlackInstallation.enterprise_id == (bot.enterprise_id or ""),
                )
            ).first()
            if row is None:
                row = SlackInstallation(team_id=bot.team_id, enterprise_id=bot.enterprise_id or "")
                work.session.add(row)
            row.team_name = bot.team_name
            row.app_id = bot.app_id
            row.bot_id = bot.bot_id
            row.bot_user_id = bot.bot_user_id
            row.bot_scopes = ",".join(bot.bot_scopes)
            row.bot_token_encrypted = self.cipher.encrypt(bot.bot_token.get_secret_value())
            row.bot_refresh_token_encrypted = (
                self.cipher.encrypt(bot.bot_refresh_token.get_secret_value())
                if bot.bot_refresh_token
                else None
            )
            row.bot_token_expires_at = bot.bot_token_expires_at
            row.installer_user_id = bot.installer_user_id
            row.is_enterprise_install = bot.is_enterprise_install
            row.installed_at = bot.installed_at or self.clock()
            work.commit()
        self._removed(bot.team_id)  # a re-install replaces the token: drop the old one
        log.info("Connect installed in Slack workspace %s", bot.team_id)

    def find(self, team_id: str | None, enterprise_id: str | None = None) -> InstalledBot | None:
        """The bot for a workspace; an org-wide (Enterprise Grid) install serves all its teams."""
        with self.uow() as work:
            query = select(SlackInstallation).order_by(SlackInstallation.installed_at.desc())
            if team_id:
                rows = work.session.scalars(query.where(SlackInstallation.team_id == team_id))
                row = next(
                    (r for r in rows if not enterprise_id or r.enterprise_id == enterprise_id),
                    None,
                )
            else:
                row = None
            if row is None and enterprise_id:
                row = work.session.scalars(
                    query.where(
                        SlackInstallation.enterprise_id == enterprise_id,
                        SlackInstallation.is_enterprise_install.is_(True),
                    )
                ).first()
            return self._bot(row) if row is not None else None

    def bot_token(self, team_id: str) -> SecretStr | None:
        bot = self.cached(team_id)
        return bot.bot_token if bot else None

    def delete(self, team_id: str | None, enterprise_id: str | None = None) -> int:
        """Forget the workspace's bot and tokens; the number of installations removed."""
        with self.uow() as work:
            query = delete(SlackInstallation)
            if team_id:
                query = query.where(SlackInstallation.team_id == team_id)
            elif enterprise_id:
                query = query.where(
                    SlackInstallation.enterprise_id == enterprise_id,
                    SlackInstallation.is_enterprise_install.is_(True),
                )
            else:
                return 0
            if team_id and enterprise_id:
                query = query.where(SlackInstallation.enterprise_id == enterprise_id)
            removed = work.session.execute(query).rowcount or 0  # type: ignore[attr-defined]
            work.commit()
        self._removed(team_id)
        return int(removed)

    def forget_workspace(self, team_id: str) -> dict[str, int]:
        """The app was uninstalled: remove every row Connect keeps for the workspace (its
        installation, links, subscriptions, settings, user links, queued notifications...)."""
        removed: dict[str, int] = {}
        with self.uow() as work:
            for table in reversed(Base.metadata.sorted_tables):
                if "team_id" not in table.c:
                    continue
                result = work.session.execute(delete(table).where(table.c.team_id == team_id))
                count = int(result.rowcount or 0)  # type: ignore[attr-defined]
                if count:
                    removed[table.name] = count
            work.commit()
        self._removed(team_id)
        log.info(
            "Slack workspace %s uninstalled Connect; removed %s",
            team_id,
            ", ".join(f"{n} {t}" for t, n in sorted(removed.items())) or "nothing",
        )
        return removed

    def reencrypt(self) -> int:
        """Re-encrypt every stored token with the first key of CONNECT_ENCRYPTION_KEY (after
        `NEW,OLD` was set), so that OLD can then be dropped; the number of installations."""
        with self.uow() as work:
            rows = list(work.session.scalars(select(SlackInstallation)))
            for row in rows:
                row.bot_token_encrypted = self.cipher.rotate(row.bot_token_encrypted)
                if row.bot_refresh_token_encrypted:
                    row.bot_refresh_token_encrypted = self.cipher.rotate(
                        row.bot_refresh_token_encrypted
                    )
            work.commit()
        return len(rows)

    def _bot(self, row: SlackInstallation) -> InstalledBot:
        refresh = row.bot_refresh_token_encrypted
        return InstalledBot(
            team_id=row.team_id,
            enterprise_id=row.enterprise_id or None,
            team_name=row.team_name,
            app_id=row.app_id,
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=tuple(s for s in row.bot_scopes.split(",") if s),
            bot_token=SecretStr(self.cipher.decrypt(row.bot_token_encrypted)),
            bot_refresh_token=SecretStr(self.cipher.decrypt(refresh)) if refresh else None,
            bot_token_expires_at=row.bot_token_expires_at,
            installer_user_id=row.installer_user_id,
            is_enterprise_install=row.is_enterprise_install,
            installed_at=row.installed_at,
        )

    # -- OAuth state --------------------------------------------------------------------------

    def issue_state(self) -> str:
        """A sealed state for one install, good for STATE_TTL; nothing is written."""
        expires = int((self.clock() + STATE_TTL).timestamp())
        nonce = secrets.token_urlsafe(16)
        return f"{expires}.{nonce}.{self._seal(expires, nonce)}"

    def consume_state(self, state: str) -> bool:
        """True for a state this process family sealed, not expired and not yet spent (the
        callback's check before it asks Slack for the token; it writes nothing)."""
        opened = self._open(state)
        if opened is None:
            return False
        with self.uow() as work:
            spent = work.session.get(SlackOAuthState, opened[1])
        return spent is None

    def spend_state(self, state: str) -> bool:
        """Marks a valid state used, once Slack accepted its code; False when it was already
        spent (a replay, or two callbacks racing with one state)."""
        opened = self._open(state)
        if opened is None:
            return False
        expires, nonce = opened
        try:
            with self.uow() as work:
                work.session.add(SlackOAuthState(state=nonce, expires_at=expires))
                work.commit()
        except IntegrityError:
            return False
        return True

    def _seal(self, expires: int, nonce: str) -> str:
        mac = hmac.new(self._state_key, f"{expires}.{nonce}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def _open(self, state: str) -> tuple[datetime, str] | None:
        """The expiry and nonce of an authentic, unexpired state; None for anything else."""
        found = _SEALED_STATE.fullmatch(state or "")
        if found is None:
            return None
        stamp, nonce, given = found.groups()
        expected = self._seal(int(stamp), nonce)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return None
        expires = datetime.fromtimestamp(int(stamp), UTC)
        if expires < self.clock():
            return None
        return expires, nonce
