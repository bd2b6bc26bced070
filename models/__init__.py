"""SQLAlchemy models; importing this package registers every table on Base.metadata."""

from models.base import Base, utcnow
from models.channels import ChannelSettings, ChannelSubscription, SubscriptionThread
from models.delivery import NotificationOutbox, PollCursor, ProcessedDelivery
from models.installations import SlackInstallation, SlackOAuthState
from models.issues import ConnectAction, JiraSlackLink, KnownIssue
from models.jira_identity import JiraOAuthState, JiraUserToken
from models.threads import SyncedReply
from models.users import NotifyPreference, UserLink

__all__ = [
    "Base",
    "ChannelSettings",
    "ChannelSubscription",
    "ConnectAction",
    "JiraOAuthState",
    "JiraSlackLink",
    "JiraUserToken",
    "KnownIssue",
    "NotificationOutbox",
    "NotifyPreference",
    "PollCursor",
    "ProcessedDelivery",
    "SlackInstallation",
    "SlackOAuthState",
    "SubscriptionThread",
    "SyncedReply",
    "UserLink",
    "utcnow",
]
