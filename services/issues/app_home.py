"""What a person's App Home shows: their Jira mapping, open issues and channel subscriptions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from clients.jira_client import JiraAuthError, JiraError, JiraIssue, JiraUnavailable, JiraUser
from clients.slack_client import SlackUnavailable
from models import ChannelSubscription
from services.errors import ConnectError, JiraDown, SlackDown, jira_errors
from services.issues.service import IssueService
from services.markup import escape_mrkdwn
from services.people.accounts import UserMapping
from services.unit_of_work import UnitOfWorkFactory

MY_ISSUES_LIMIT = 20


@dataclass(frozen=True, slots=True)
class SubscriptionLine:
    channel_id: str
    number: int
    project_key: str | None
    jql: str | None
    kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HomeData:
    jira_user: JiraUser | None
    email: str | None
    # None when they could not be read; `problem` then says why.
    issues: tuple[JiraIssue, ...] | None
    subscriptions: tuple[SubscriptionLine, ...]
    problem: str | None = None


def my_open_issues_jql(account_id: str) -> str:
    escaped = account_id.replace("\\", "\\\\").replace('"', '\\"')
    return f'assignee = "{escaped}" AND statusCategory != Done ORDER BY updated DESC'


class AppHomeService:
    def __init__(self, uow: UnitOfWorkFactory, users: UserMapping, issues: IssueService) -> None:
        self.uow = uow
        self.users = users
        self.issues = issues

    def load(self, team_id: str, user_id: str) -> HomeData:
        """Everything the home shows; Jira or Slack being down is a `problem`, not a failure."""
        subscriptions = self.subscriptions_of(team_id, user_id)
        try:
            jira_user = self.users.jira_user_for(team_id, user_id)
        except (JiraUnavailable, JiraAuthError):
            return HomeData(None, None, None, subscriptions, JiraDown().user_message)
        except SlackUnavailable:
            return HomeData(None, None, None, subscriptions, SlackDown().user_message)
        mapping = self.users.whoami(team_id, user_id)
        email = mapping.email if mapping is not None else None
        if jira_user is None:
            return HomeData(None, None, (), subscriptions)
        try:
            issues = self.open_issues_of(jira_user)
        except ConnectError as error:
            return HomeData(jira_user, email, None, subscriptions, error.user_message)
        except JiraError as error:
            problem = f"Jira could not list your issues: {escape_mrkdwn(error.message)}"
            return HomeData(jira_user, email, None, subscriptions, problem)
        return HomeData(jira_user, email, issues, subscriptions)

    def open_issues_of(self, jira_user: JiraUser) -> tuple[JiraIssue, ...]:
        """Not through IssueService.search: a rejected query must not turn into a text search."""
        jql = my_open_issues_jql(jira_user.account_id)
        policy = self.issues.policy
        if policy.allowed_projects:
            jql = f"project in ({', '.join(sorted(policy.allowed_projects))}) AND {jql}"
        with jira_errors():
            page = self.issues.jira.search(jql, max_results=MY_ISSUES_LIMIT)
        return tuple(i for i in page.issues if policy.project_allowed(i.project_key))

    def subscriptions_of(self, team_id: str, user_id: str) -> tuple[SubscriptionLine, ...]:
        """The active subscriptions this person created, by channel."""
        with self.uow() as work:
            rows = work.session.scalars(
                select(ChannelSubscription)
                .where(
                    ChannelSubscription.team_id == team_id,
                    ChannelSubscription.created_by == user_id,
                    ChannelSubscription.active.is_(True),
                )
                .order_by(ChannelSubscription.channel_id, ChannelSubscription.number)
            ).all()
            return tuple(
                SubscriptionLine(row.channel_id, row.number, row.project_key, row.jql, row.kinds)
                for row in rows
            )
