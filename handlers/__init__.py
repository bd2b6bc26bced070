"""Thin Bolt listeners, one module per kind, each with `register(app)`.

A listener validates its payload once into a typed object, acks, and submits the rest to the
work after acks (handlers.after_ack), which reaches it through Bolt's context (`after_ack`,
and `opener` for modals: bot.app.InjectServices).
"""

from __future__ import annotations

from concurrent.futures import Executor

from slack_bolt import App

from handlers import (
    app_home,
    card_actions,
    commands,
    create_issue,
    installations,
    jira_connect,
    mentions,
    message_shortcuts,
    previews,
    share_and_pages,
    thread_sync,
)
from services.issues.cache import IssueCache


def register_listeners(app: App, *, picker_pool: Executor, options_pool: Executor) -> None:
    """`picker_pool`, `options_pool`: the threads of the issue picker and of the Transition
    select, whose options Slack takes only in the HTTP answer (bot.container builds them)."""
    # One per app: previews, unfurls and card actions share what they learnt of each issue.
    issue_cache = IssueCache()
    # Bolt tries listeners in this order, building the thirty-odd listener arguments for each
    # try (~40 µs): what must ack fastest or comes most often goes first, and ids handled
    # alike share one listener (blocks.one_of). Every matcher is an exact id (or a set of
    # them), so the order never changes which listener answers.
    commands.register(app)
    create_issue.register(app)
    message_shortcuts.register(app, picker_pool)
    thread_sync.register(app, issue_cache)  # before previews: it hands messages on to them
    previews.register(app, issue_cache)
    share_and_pages.register(app)
    card_actions.register(app, issue_cache, options_pool)
    app_home.register(app)
    mentions.register(app)
    installations.register(app)
    jira_connect.register(app)
