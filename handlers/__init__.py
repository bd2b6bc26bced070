"""Thin Bolt listeners, one module per kind, each with `register(app)`."""

from __future__ import annotations

from slack_bolt import App

from handlers import (
    actions,
    app_home,
    card_actions,
    commands,
    create_issue,
    event_dedupe,
    installations,
    mentions,
    message_shortcuts,
    previews,
)
from handlers.lazy_guard import guard_lazy_listeners
from services.issue_cache import IssueCache


def register_listeners(app: App) -> None:
    event_dedupe.register(app)  # first: a repeated event reaches no listener
    # One per app: previews, unfurls and card actions share what they learnt of each issue.
    issue_cache = IssueCache()
    # Bolt tries listeners in this order, each try costing a matcher call (~40 µs of kwargs
    # building): what must ack fastest or comes most often goes first. Every matcher is an
    # exact id, so the order never changes which listener answers.
    commands.register(app)
    create_issue.register(app)
    message_shortcuts.register(app)
    previews.register(app, issue_cache)
    actions.register(app)
    card_actions.register(app, issue_cache)
    app_home.register(app)
    mentions.register(app)
    installations.register(app)
    # Last: every lazy listener above ends in a log line of the right level, never a crash.
    guard_lazy_listeners(app)
