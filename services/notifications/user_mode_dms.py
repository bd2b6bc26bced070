"""Who may be DMed what when each person acts with their own Jira account
(`JIRA_AUTH_MODE=user`, SPEC §11/§12): only what their own token can read.

A DM is posted only if Jira, asked as that person when the DM is about to go out, shows them
the issue (`visible`, the outbox's DM gate). It is asked then, by the outbox, not while the
change is announced: announcing runs inside the delivery's transaction, and a person's token
may need the database (a refresh) to be used. A person with no working grant (never
connected, expired, revoked) is DMed nothing: Connect cannot tell what they may see.

Nothing restricted is ever written into a DM: the outbox never holds a restricted comment's
body or a security-level issue's summary. A comment restricted to a role or group is not
DMed at all (`may_see`, as in bot mode): which roles and groups a person is in, Jira tells
only administrators.

Answers are kept a minute per person and issue, so a burst, or DMs about several changes of
one issue, ask Jira once.
"""

from __future__ import annotations

import logging
import threading

from cachetools import TTLCache

from clients.jira_client import JiraError
from services.jira_changes.outages import is_outage
from services.notifications.outbox import DmGate
from services.notifications.personal import BotModeDms
from services.people.jira_identity import JiraIdentity
from services.people.person_jira import JiraNotConnected

log = logging.getLogger(__name__)

VISIBILITY_TTL_SECONDS = 60.0
_MAX_ANSWERS = 4096


class UserModeDms(BotModeDms):
    def __init__(self, identity: JiraIdentity, *, ttl: float = VISIBILITY_TTL_SECONDS) -> None:
        self._identity = identity
        self._answers: TTLCache[tuple[str, str, str], bool] = TTLCache(_MAX_ANSWERS, ttl)
        self._lock = threading.Lock()

    def visible(self, team_id: str, slack_user_id: str, issue_id: str) -> bool | None:
        """Whether Jira shows the person the issue; None when Jira could not say (not kept:
        the DM waits and asks again)."""
        key = (team_id, slack_user_id, issue_id)
        with self._lock:
            known = self._answers.get(key)
        if known is not None:
            return known
        seen = self._ask(team_id, slack_user_id, issue_id)
        if seen is not None:
            with self._lock:
                self._answers[key] = seen
        return seen

    def _ask(self, team_id: str, slack_user_id: str, issue_id: str) -> bool | None:
        try:
            self._identity.client_for(team_id, slack_user_id).get_issue(issue_id)
            return True
        except JiraNotConnected:
            return False
        except JiraError as error:
            if is_outage(error):
                log.warning(
                    "a DM to %s waits: Jira could not say whether they may read issue %s (%s)",
                    slack_user_id,
                    issue_id,
                    type(error).__name__,
                )
                return None
            return False  # not found, not permitted: hidden from them


def dm_rules(identity: JiraIdentity | None) -> tuple[BotModeDms, DmGate | None]:
    """The DM policy of the identity mode, and the outbox's gate (user mode only)."""
    if identity is None:
        return BotModeDms(), None
    dms = UserModeDms(identity)
    return dms, dms.visible
