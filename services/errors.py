"""Failures a Slack user is told about, each with a message fit to show them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clients.jira_client import JiraAuthError, JiraNotFound, JiraTimeout, JiraUnavailable
from clients.slack_client import SlackError, SlackUnavailable
from services.markup import escape_typed


class ConnectError(Exception):
    """`user_message` is mrkdwn fit to post: any text in it Connect did not write (typed
    arguments, Jira's words) is escaped where it is put in (SPEC §11)."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class IssueNotFound(ConnectError):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"I can't find *{escape_typed(key)}*: it does not exist, or Connect may not show it."
        )
        self.key = key


class JiraDown(ConnectError):
    def __init__(self, *, slow: bool = False) -> None:
        if slow:
            super().__init__(":warning: Jira did not answer in time; try again in a minute.")
        else:
            super().__init__(":warning: Jira is not reachable right now; try again in a minute.")

    @classmethod
    def for_error(cls, error: JiraUnavailable) -> JiraDown:
        return cls(slow=isinstance(error, JiraTimeout))


class JiraRefused(ConnectError):
    """Jira refused Connect's own credentials or permissions: an admin has to act."""

    def __init__(self) -> None:
        super().__init__(
            ":warning: Jira refused Connect's account (credentials or permissions). "
            "Ask your Connect admin to check JIRA_EMAIL/JIRA_API_TOKEN or JIRA_PAT."
        )


class InvalidRequest(ConnectError):
    """The request names something that does not fit (a status, a user, a value)."""


class NotPermitted(ConnectError):
    pass


@contextmanager
def jira_errors(key: str | None = None) -> Iterator[None]:
    """Turn the Jira client's failures into what the user is told."""
    try:
        yield
    except JiraNotFound:
        if key is None:
            raise
        raise IssueNotFound(key) from None
    except JiraUnavailable as error:
        raise JiraDown.for_error(error) from None
    except JiraAuthError:
        raise JiraRefused() from None


# Slack's answers about a message deleted between a shortcut and its modal's submission.
GONE_ERRORS = frozenset({"message_not_found", "thread_not_found"})
MESSAGE_GONE = "That message is not in Slack any more (was it deleted?)."


class SlackDown(ConnectError):
    def __init__(self) -> None:
        super().__init__(":warning: Slack is not answering right now; try again in a minute.")


def user_message_for(exc: Exception) -> str | None:
    """What to tell the user about a failure that escaped the services, if it is a known one."""
    if isinstance(exc, ConnectError):
        return exc.user_message
    if isinstance(exc, JiraUnavailable):
        return JiraDown.for_error(exc).user_message
    if isinstance(exc, JiraAuthError):
        return JiraRefused().user_message
    if isinstance(exc, SlackUnavailable):
        return SlackDown().user_message
    if isinstance(exc, SlackError) and exc.error in GONE_ERRORS:
        return MESSAGE_GONE
    return None
