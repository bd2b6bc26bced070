"""Bolt's built-in listener matchers, called with the request body instead of through Bolt's
argument injection.

For every request Bolt asks its listeners, in the order they were registered, whether the
request is theirs. Each built-in matcher (a command's name, a callback_id, an action_id, an
event type, …) is a function of the request body alone, yet Bolt calls it through its kwargs
injection, which builds the thirty-odd arguments it offers a listener, each time: a view
submission was matched after seven such builds, about a fifth of its ack's CPU.
`use_direct_matchers(app)` replaces every built-in matcher that asks for the body alone with
one that hands it the body; any other matcher (one of Connect's own, say) is left alone.

Bolt internals: slack_bolt 1.x's `BuiltinListenerMatcher` (`func`, `arg_names`) and each
listener's `matchers`; slack-bolt is pinned below 2 in pyproject.toml, and
tests/integration/test_listener_matching.py fails if either changes shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.listener_matcher import ListenerMatcher
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher


class BodyMatcher(ListenerMatcher):
    """A built-in matcher's function, given the request body."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def matches(self, req: BoltRequest, resp: BoltResponse) -> bool:
        return bool(self.func(body=req.body))


def use_direct_matchers(app: App) -> int:
    """Swap the body-only built-in matchers of every listener registered on `app` so far;
    returns how many were swapped."""
    swapped = 0
    for listener in app._listeners:  # Bolt has no public hook around its matchers
        matchers: list[ListenerMatcher] = []
        for matcher in listener.matchers:
            if type(matcher) is BuiltinListenerMatcher and list(matcher.arg_names) == ["body"]:
                matchers.append(BodyMatcher(matcher.func))
                swapped += 1
            else:
                matchers.append(matcher)
        listener.matchers = matchers
    return swapped
