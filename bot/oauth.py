"""Multi-workspace OAuth mode: Bolt's store interfaces over Connect's own tables.

slack_sdk's SQLAlchemy store keeps tokens in plain text; these keep them encrypted with
CONNECT_ENCRYPTION_KEY (services/people/installations.py) in Alembic-managed tables. Requests are
authorised from the stored installation, without an auth.test call per request.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.error import BoltError
from slack_bolt.middleware import Middleware
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

from bot.manifest import load_manifest
from services.people.installations import Installations, InstalledBot

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


class ConnectInstallationStore(InstallationStore):
    """Bot installations only: Connect acts with its bot token, never with a user token."""

    def __init__(self, installations: Installations) -> None:
        self.installations = installations

    @property
    def logger(self) -> logging.Logger:
        return log

    def save(self, installation: Installation) -> None:
        self._save(installation.to_bot(), installer=installation.user_id)

    def save_bot(self, bot: Bot) -> None:
        self._save(bot, installer=None)

    def _save(self, bot: Bot, *, installer: str | None) -> None:
        if not bot.bot_token or not (bot.team_id or bot.enterprise_id):
            raise ValueError("Slack's answer carried no bot token or workspace")
        self.installations.save(
            InstalledBot(
                team_id=bot.team_id or "",
                enterprise_id=bot.enterprise_id,
                team_name=bot.team_name,
                app_id=bot.app_id,
                bot_id=bot.bot_id,
                bot_user_id=bot.bot_user_id,
                bot_scopes=tuple(bot.bot_scopes or ()),
                bot_token=SecretStr(bot.bot_token),
                bot_refresh_token=SecretStr(bot.bot_refresh_token)
                if bot.bot_refresh_token
                else None,
                bot_token_expires_at=_timestamp(bot.bot_token_expires_at),
                installer_user_id=installer,
                is_enterprise_install=bool(bot.is_enterprise_install),
            )
        )

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = self.installations.cached(None if is_enterprise_install else team_id, enterprise_id)
        return _as_bot(found) if found else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        if user_id is not None:
            return None  # no user tokens are kept
        found = self.installations.cached(None if is_enterprise_install else team_id, enterprise_id)
        if found is None:
            return None
        return Installation(
            app_id=found.app_id,
            enterprise_id=found.enterprise_id,
            team_id=found.team_id or None,
            team_name=found.team_name,
            bot_token=found.bot_token.get_secret_value(),
            bot_id=found.bot_id,
            bot_user_id=found.bot_user_id,
            bot_scopes=list(found.bot_scopes),
            user_id=found.installer_user_id or "",
            is_enterprise_install=found.is_enterprise_install,
            installed_at=found.installed_at.timestamp() if found.installed_at else None,
        )

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.installations.delete(team_id, enterprise_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:
            self.installations.delete(team_id, enterprise_id)

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.installations.delete(team_id, enterprise_id)


class ConnectStateStore(OAuthStateStore):
    """OAuth `state` values in the database, so any process can finish an install."""

    def __init__(self, installations: Installations) -> None:
        self.installations = installations

    @property
    def logger(self) -> logging.Logger:
        return log

    def issue(self, *args: Any, **kwargs: Any) -> str:
        return self.installations.issue_state()

    def consume(self, state: str) -> bool:
        """Checks the state (seal, expiry, not spent); ConnectOAuthFlow spends it once Slack
        has accepted the code, so a stranger's callback writes nothing."""
        return self.installations.consume_state(state)


class TeamAllowList:
    """SLACK_ALLOWED_TEAMS: the workspaces and Enterprise Grid organisations Connect serves
    (empty: any)."""

    def __init__(self, allowed: frozenset[str] = frozenset()) -> None:
        self.allowed = allowed

    def admits(self, team_id: str | None, enterprise_id: str | None) -> bool:
        if not self.allowed:
            return True
        return bool({team_id, enterprise_id} & self.allowed)


class InstallRefused(BoltError):
    """An install Connect will not keep; `status` and `page` are what the installer sees."""

    def __init__(self, reason: str, status: int, page: str) -> None:
        super().__init__(reason)
        self.status = status
        self.page = page


class ConnectOAuthFlow(OAuthFlow):
    """Bolt's flow, keeping an installation only for an allowed workspace and a state used
    once. A refused install's fresh token is revoked (auth.revoke) before the page says why."""

    def __init__(
        self,
        *,
        client: WebClient,
        settings: OAuthSettings,
        installations: Installations,
        teams: TeamAllowList,
    ) -> None:
        super().__init__(client=client, logger=log, settings=settings)
        self.installations = installations
        self.teams = teams

    def store_installation(self, request: BoltRequest, installation: Installation) -> None:
        state = (request.query.get("state") or [""])[0]
        if not self.installations.spend_state(state):
            # Not revoked: a second callback of one install (a double click) carries the
            # token the first one stored.
            raise InstallRefused("state_reused", 400, _REUSED_PAGE)
        if not self.teams.admits(installation.team_id, installation.enterprise_id):
            log.warning(
                "refused an install into Slack workspace %s (enterprise %s): not in "
                "SLACK_ALLOWED_TEAMS; its token was revoked",
                installation.team_id,
                installation.enterprise_id,
            )
            self._revoke(installation)
            raise InstallRefused("team_not_allowed", 403, _not_allowed_page(installation))
        super().store_installation(request, installation)

    def _revoke(self, installation: Installation) -> None:
        for token in (installation.bot_token, installation.user_token):
            if not token:
                continue
            try:
                self.client.auth_revoke(token=token)
            except SlackApiError as exc:
                log.warning(
                    "could not revoke a refused install's token: %s", exc.response.get("error")
                )


def refused_install_page(args: FailureArgs) -> BoltResponse:
    """Bolt's failure page, or Connect's own for an install it refused."""
    if not isinstance(args.error, InstallRefused):
        return args.default.failure(args)
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Set-Cookie": [args.settings.state_utils.build_set_cookie_for_deletion()],
    }
    return BoltResponse(status=args.error.status, body=args.error.page, headers=headers)


def _page(title: str, text: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Connect</title></head>'
        f"<body><h2>{html.escape(title, quote=False)}</h2><p>{html.escape(text, quote=False)}</p>"
        "</body></html>"
    )


_REUSED_PAGE = _page(
    "This install link was already used",
    "Open the install page again to install Connect.",
)


def _not_allowed_page(installation: Installation) -> str:
    where = installation.team_name or installation.team_id or installation.enterprise_id or ""
    return _page(
        "Connect can't be installed in this workspace",
        f"This Connect serves only the Slack workspaces its administrator allowed, and "
        f"{where} is not one of them. Nothing was installed; ask the person who runs "
        "Connect to add it (SLACK_ALLOWED_TEAMS).",
    )


class OnlyAllowedTeams(Middleware):
    """Runs before authorization: requests from workspaces outside SLACK_ALLOWED_TEAMS are
    acknowledged and ignored (an install made before the list changed serves nobody)."""

    def __init__(self, teams: TeamAllowList) -> None:
        self.teams = teams

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        context = req.context
        if (context.team_id or context.enterprise_id) and not self.teams.admits(
            context.team_id, context.enterprise_id
        ):
            log.info("ignored a request from Slack workspace %s: not allowed", context.team_id)
            return BoltResponse(status=200, body="")
        return next()


class InstallationAuthorize(Authorize):
    """Bolt's authorize step from the stored installation: no auth.test call per request."""

    def __init__(self, installations: Installations) -> None:  # Authorize.__init__ does nothing
        self.installations = installations

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        bot = self.installations.cached(team_id, enterprise_id)
        if bot is None:
            log.warning(
                "a request from Slack workspace %s, where Connect is not installed", team_id
            )
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id or bot.enterprise_id,
            team_id=team_id or bot.team_id or None,
            team=bot.team_name,
            bot_user_id=bot.bot_user_id,
            bot_id=bot.bot_id,
            bot_token=bot.bot_token.get_secret_value(),
            bot_scopes=list(bot.bot_scopes),
            user_id=user_id,
        )


def bot_scopes() -> list[str]:
    """The bot scopes the committed manifest.yml asks for: one list to keep in step."""
    scopes = load_manifest().get("oauth_config", {}).get("scopes", {}).get("bot", [])
    return [str(scope) for scope in scopes]


def build_oauth_flow(
    *,
    client_id: str,
    client_secret: str,
    installations: Installations,
    client: WebClient,
    public_url: str | None,
    teams: TeamAllowList | None = None,
) -> OAuthFlow:
    store = ConnectInstallationStore(installations)
    settings = OAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=bot_scopes(),
        user_scopes=[],
        redirect_uri=public_url.rstrip("/") + REDIRECT_PATH if public_url else None,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=store,
        installation_store_bot_only=True,
        state_store=ConnectStateStore(installations),
        callback_options=CallbackOptions(success=_bolt_success, failure=refused_install_page),
    )
    return ConnectOAuthFlow(
        client=client,
        settings=settings,
        installations=installations,
        teams=teams or TeamAllowList(),
    )


def _bolt_success(args: SuccessArgs) -> BoltResponse:
    return args.default.success(args)


def _as_bot(found: InstalledBot) -> Bot:
    return Bot(
        app_id=found.app_id,
        enterprise_id=found.enterprise_id,
        team_id=found.team_id or None,
        team_name=found.team_name,
        bot_token=found.bot_token.get_secret_value(),
        bot_id=found.bot_id or "",
        bot_user_id=found.bot_user_id or "",
        bot_scopes=list(found.bot_scopes),
        is_enterprise_install=found.is_enterprise_install,
        installed_at=found.installed_at.timestamp() if found.installed_at else 0.0,
    )


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(int(value), UTC)
