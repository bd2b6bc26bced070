"""When the work after acks is backed up, an ack that would add to it says so instead.

Work after an ack (Jira calls, mostly) runs on a fixed pool of threads (handlers.after_ack).
When Jira is slow and requests keep coming, the tasks waiting for a thread pile up: each
holds its request, the answers come minutes late (a slash command's response_url lasts 30
minutes; a user gives up sooner), and the pile itself slows every ack (CPython's full
collections walk it). Past the bound (`AfterAck.refuse`; bot.container sets it), the acks
that would queue more work answer at once that nothing was done and to try again: a command
with an ephemeral message, the create modal with an error under its summary (what was typed
is kept), a shortcut with a modal that says so. Previews of issue keys in passing talk are
skipped: no one asked for them. Nothing is queued for a request turned away.
"""

from __future__ import annotations

BUSY_TEXT = (
    ":hourglass: Jira is answering slowly and Connect already has more work waiting for it "
    "than it can start soon. Nothing was done: please try again in a minute."
)
BUSY_FIELD_TEXT = "Jira is answering slowly and Connect is backed up: submit again in a minute."
