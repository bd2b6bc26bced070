"""SQLAlchemy models; importing this package registers every table on Base.metadata."""

from models.base import Base, utcnow
from models.channels import ChannelSettings, ChannelSubscription, SubscriptionThread
from models.delivery import NotificationOutbox, PollCursor, ProcessedDelivery
from models.installations import SlackInstallation, SlackOAuthState
from models.issues import ConnectAction, JiraSlackLink, KnownIssue
from models.users import UserLink

__all__ = [
    "Base",
    "ChannelSettings",
    "ChannelSubscription",
    "ConnectAction",
    "JiraSlackLink",
    "KnownIssue",
    "NotificationOutbox",
    "PollCursor",
    "ProcessedDelivery",
    "SlackInstallation",
    "SlackOAuthState",
    "SubscriptionThread",
    "UserLink",
    "utcnow",
]
