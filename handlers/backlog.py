"""When the work after acks is backed up, an ack that would add to it says so instead.

Work after an ack (Jira calls, mostly) runs on a fixed pool of threads. When Jira is slow
and requests keep coming, the tasks waiting for a thread pile up: each holds its request,
the answers come minutes late (a slash command's response_url lasts 30 minutes; a user gives
up sooner), and the pile itself slows every ack (CPython's full collections walk it). Past
the bound (`busy`, as bot.app.SharedExecutor answers it; bot.container sets it), the acks
that would queue more work answer at once that nothing was done and to try again: a command
with an ephemeral message, the create modal with an error under its summary (what was typed
is kept), a shortcut with a modal that says so. Previews of issue keys in passing talk are
skipped: no one asked for them.

An ack marks its request (`skip_lazy`) so that its lazy listeners are not queued at all
(bot.lazy_requests): nothing is copied, nothing waits.
"""

from __future__ import annotations

from typing import Any

# The request context's key: its lazy listeners are not to run; the value says why.
LAZY_SKIP = "connect_lazy_skip"
BUSY = "busy"  # the work queue is backed up (counted: connect_work_turned_away)
NOTHING_TO_DO = "nothing_to_do"  # the ack has answered all there is (an error, plain talk)

BUSY_TEXT = (
    ":hourglass: Jira is answering slowly and Connect already has more work waiting for it "
    "than it can start soon. Nothing was done: please try again in a minute."
)
BUSY_FIELD_TEXT = "Jira is answering slowly and Connect is backed up: submit again in a minute."


def backed_up(context: Any) -> bool:
    """Whether the work after acks is past its bound, as the request's context has it."""
    return busy(context.get("work_executor"))


def busy(executor: object) -> bool:
    """Whether `executor` says it is past its bound (False for one that cannot say)."""
    return bool(getattr(executor, "busy", False))


def skip_lazy(context: Any, reason: str) -> None:
    context[LAZY_SKIP] = reason
