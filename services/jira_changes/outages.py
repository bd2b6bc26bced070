"""An outage is not a failure (SPEC §7): while Jira or Slack cannot be reached (connection
refused, timeouts, 5xx, 429), work waits with a capped back-off and spends no attempt."""

from __future__ import annotations

from datetime import timedelta

from clients.jira_client import JiraUnavailable
from clients.slack_client import SlackUnavailable

FIRST_OUTAGE_DELAY = 5.0  # seconds after the first try that met an outage
MAX_OUTAGE_DELAY = 300.0  # the longest rest: work resumes within 5 minutes of recovery


def is_outage(error: BaseException) -> bool:
    return isinstance(error, JiraUnavailable | SlackUnavailable)


def outage_delay(outages: int) -> timedelta:
    """How long work waits after its `outages`-th try in a row that met an outage."""
    return timedelta(
        seconds=min(FIRST_OUTAGE_DELAY * 2.0 ** min(max(outages - 1, 0), 16), MAX_OUTAGE_DELAY)
    )


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]
