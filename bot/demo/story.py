"""The scripted story, printed as what each Slack person sees; and the interactive prompt."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from bot.demo.world import CHANNELS, PEOPLE, DemoWorld
from simulators.slack_workspace.transcript import blocks_text

SYNCED_REPLY = "Confirmed: *checkout* works again since the rollback, thanks <@U0CAROL>."
BUG_REPORT = (
    "Checkout returns a 500 for every EU customer since the 10:00 deploy :fire:\n"
    "Stack trace says `PaymentGateway timeout` — can someone look?"
)


class Transcript:
    """Prints what is new in Slack since the last look, as the people there would read it."""

    def __init__(self, world: DemoWorld, out: TextIO) -> None:
        self.world = world
        self.out = out
        self._seen: set[tuple[str, str]] = set()
        self._step = 0

    def step(self, title: str) -> None:
        self._step += 1
        self.print(f"\n── {self._step}. {title}")

    def print(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def name(self, user: str | None) -> str:
        if user in PEOPLE:
            return PEOPLE[user][1]
        return "Connect" if user == self.world.slack.bot_user_id else (user or "someone")

    def show_channels(self) -> None:
        """Every message not shown yet, channel by channel, replies under their thread."""
        for channel, messages in list(self.world.slack.messages.items()):
            where = f"#{CHANNELS[channel]}" if channel in CHANNELS else f"DM {channel}"
            person = PEOPLE.get("U" + channel[1:]) if channel.startswith("D") else None
            if person is not None:
                where = f"DM to {person[1]}"
            for message in list(messages):
                if (channel, message.ts) in self._seen:
                    continue
                self._seen.add((channel, message.ts))
                place = f"{where} > thread" if message.is_reply else where
                self.show(place, self.name(message.user), message.text, message.blocks)

    def show(
        self, place: str, who: str, text: str, blocks: Sequence[Mapping[str, Any]] | None
    ) -> None:
        lines = blocks_text(blocks) if blocks else (text or "").splitlines()
        self.print(f"  {place} · {who}:")
        for line in lines or [""]:
            self.print(f"      {line}")

    def show_private(self, user: str, answers: Sequence[Mapping[str, Any]]) -> None:
        for answer in answers:
            if answer.get("delete_original"):
                continue
            self.show(
                f"(only {self.name(user)} sees)",
                "Connect",
                str(answer.get("text", "")),
                answer.get("blocks"),
            )

    def show_modal(self, user: str, view: Mapping[str, Any]) -> None:
        title = view.get("title", {}).get("text", "")
        self.print(f"  [modal for {self.name(user)}] {title}")
        for block in view.get("blocks", []):
            if block.get("type") == "input":
                self.print(f"      {block['label']['text']}: {_initial(block.get('element', {}))}")
            else:
                for line in blocks_text([block]):
                    self.print(f"      {line}")


def _initial(element: Mapping[str, Any]) -> str:
    if element.get("initial_option"):
        return f"[{element['initial_option']['text']['text']} ▾]"
    if element.get("initial_value"):
        return " / ".join(str(element["initial_value"]).splitlines())[:90]
    if element.get("type", "").endswith("select"):
        return "[choose ▾]"
    return "…"


def form_values(view: Mapping[str, Any]) -> dict[str, Any]:
    """Submit the form as Connect prefilled it (what a person pressing Create sends)."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block.get("element", {})
        action = element.get("action_id", "value")
        kind = element.get("type")
        if kind == "static_select":
            chosen = element.get("initial_option")
            values[block["block_id"]] = {action: {"type": kind, "selected_option": chosen}}
        elif kind == "users_select":
            values[block["block_id"]] = {
                action: {"type": kind, "selected_user": element.get("initial_user")}
            }
        else:
            values[block["block_id"]] = {
                action: {"type": kind, "value": element.get("initial_value")}
            }
    return values


def play_story(world: DemoWorld, out: TextIO = sys.stdout) -> str:
    """The scripted story; returns the key of the issue it created."""
    show = Transcript(world, out)
    show.print("Connect offline demo: a Slack workspace (Alice, Bob, Carol in #support and #ops)")
    show.print(f"and a Jira site ({world.jira.server_info().base_url}) with projects OPS and WEB.")

    show.step("Bob reports a bug in #support")
    report_ts = world.say("U0BOB", "C0SUPPORT", BUG_REPORT)
    world.settle()
    show.show_channels()

    show.step('Alice picks "Create Jira issue" from the message\'s menu')
    trigger = world.message_shortcut("U0ALICE", "create_issue_from_message", "C0SUPPORT", report_ts)
    view = world.modal(trigger)
    show.show_modal("U0ALICE", view)
    values = form_values(view)
    bug = next(
        o["value"]
        for b in view["blocks"]
        if b.get("block_id") == "issue_type"
        for o in b["element"]["options"]
        if o["text"]["text"] == "Bug"
    )
    values["issue_type"] = {
        "create_issue_type": {"type": "static_select", "selected_option": {"value": bug}}
    }
    show.print("  Alice sets Issue type to Bug and presses Create.")
    world.submit("U0ALICE", view, values)
    key = _created_key(world)
    show.show_channels()

    show.step(f"In Jira, Carol starts work on {key} and comments")
    with world.in_jira_as("carol@example.com") as jira:
        world.move(key, "In Progress")
        jira.add_comment(key, "Rolled back the 10:00 deploy; *payments* look healthy again.")
    world.settle()
    time.sleep(0.5)
    world.settle()
    show.show_channels()

    show.step('Alice presses "Sync replies with Jira" on the card in the thread')
    card = next(
        m for m in world.slack.thread("C0SUPPORT", report_ts) if f"sync:{key}" in str(m.blocks)
    )
    world.press("U0ALICE", "C0SUPPORT", card.ts, "thread_sync", f"on:{key}")
    show.show_channels()

    show.step("Bob replies in the synced thread: the reply becomes a Jira comment")
    world.say("U0BOB", "C0SUPPORT", SYNCED_REPLY, thread_ts=report_ts)
    world.settle()
    comment = world.jira.comments(key)[-1]
    author = comment.author.display_name if comment.author else "Connect"
    show.print(f"  Jira {key}, new comment by {author}:")
    for line in comment.body.splitlines():
        show.print(f"    {line}")

    show.step("Carol answers in Jira: her comment comes back into the thread (Bob's does not)")
    with world.in_jira_as("carol@example.com") as jira:
        jira.add_comment(key, "Thanks Bob! I'll close it once the fix is merged.")
    world.settle()
    show.show_channels()

    show.step("Alice searches for it with /jira search checkout")
    show.show_private("U0ALICE", world.slash("U0ALICE", "C0SUPPORT", "search checkout"))

    show.step(f"Carol maps her Jira account, and Alice assigns {key} to her in Jira")
    show.show_private("U0CAROL", world.slash("U0CAROL", "C0OPS", "connect"))
    with world.in_jira_as("alice@example.com") as jira:
        jira.assign_issue(key, "acc-carol")
    world.settle()
    show.show_channels()  # the thread hears of it, and Carol gets a DM of her own
    show.show_private("U0CAROL", world.slash("U0CAROL", "C0OPS", "notify"))

    show.step(f"Bob asks about {key} in #ops")
    world.say("U0BOB", "C0OPS", f"Is {key} why the payment alerts fired?")
    world.settle()
    show.show_channels()

    show.step("#ops subscribes to new OPS issues, and Carol files one in Jira")
    show.show_private("U0BOB", world.slash("U0BOB", "C0OPS", "subscribe OPS --events created"))
    with world.in_jira_as("carol@example.com") as jira:
        jira.add_issue("OPS", "Add an alert on payment gateway latency", issue_type="Task")
    world.settle()
    show.show_channels()

    show.print("\nThat was Connect end to end: the same Bolt app, services, database and")
    show.print("outbox as production, against simulated Slack and Jira.")
    show.print("`python -m bot demo --interactive` to explore.")
    return key


def play_identity_story(world: DemoWorld, out: TextIO = sys.stdout) -> None:
    """JIRA_AUTH_MODE=user: Alice connects her own Jira account and acts as herself; Bob, not
    connected, is offered the button. `world` runs with `user_mode=True`."""
    show = Transcript(world, out)
    show.print("\nNow the same workspace with JIRA_AUTH_MODE=user: Connect acts in Jira as each")
    show.print("person, with their own Jira account and permissions.")

    show.step("Alice runs /jira connect")
    answers = world.slash("U0ALICE", "C0SUPPORT", "connect")
    show.show_private("U0ALICE", answers)
    url = _button_url(answers)

    show.step("Alice presses the button: Jira's consent screen (approved), then back to Connect")
    page = world.browse(url, signed_in_as="acc-alice")
    show.print(f"  Alice's browser: {_page_text(page.text)}")
    world.settle()
    show.show_channels()

    show.step("Alice comments on OPS-1 with /jira comment, as herself")
    text = "Replica disk was full; cleaned up and re-ran the backup."
    show.show_private("U0ALICE", world.slash("U0ALICE", "C0SUPPORT", f"comment OPS-1 {text}"))
    comment = world.jira.comments("OPS-1")[-1]
    author = comment.author.display_name if comment.author else "?"
    show.print(f"  In Jira, OPS-1's new comment is by {author}: {comment.body}")

    show.step("Bob, not connected yet, asks for WEB-1")
    show.show_private("U0BOB", world.slash("U0BOB", "C0SUPPORT", "show WEB-1"))
    show.print("\n`JIRA_AUTH_MODE=user` in the README says how to set up the Jira OAuth app.")


def _button_url(answers: Sequence[Mapping[str, Any]]) -> str:
    for answer in answers:
        for block in answer.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("url"):
                    return str(element["url"])
    raise RuntimeError("Connect answered /jira connect without a button")


def _page_text(html: str) -> str:
    start = html.find("<p>")
    end = html.find("</p>", start)
    return html[start + 3 : end] if start >= 0 and end > start else html[:200]


def _created_key(world: DemoWorld) -> str:
    issues = world.jira.search_all('text ~ "Checkout returns"')
    if not issues:
        raise RuntimeError("the demo's issue was not created")
    return issues[-1].key


HELP = """Type as a Slack person, or act in Jira:
  /jira …                       a slash command (as the current person, in the current channel)
  any other text                a message in the current channel
  :as alice|bob|carol           who you are in Slack          :in #support|#ops   where you are
  :shortcut create_issue_from_message|link_message_to_issue|comment_on_issue_from_message [ts]
                                on a message (default: the last one); the modal is shown
  :submit                       press the modal's button with its prefilled values
  :jira move KEY STATUS | :jira comment KEY text | :jira assign KEY alice|none
  :jira create PROJECT summary  act in Jira (as :jira-as carol by default)
  :jira-as alice|bob|carol      who you are in Jira           :show   everything so far
  :quit"""


def interactive(
    world: DemoWorld, read: Callable[[str], str] = input, out: TextIO = sys.stdout
) -> None:
    show = Transcript(world, out)
    user, channel, jira_user = "U0ALICE", "C0SUPPORT", "carol@example.com"
    last_ts: str | None = None
    modal: tuple[str, dict[str, Any]] | None = None
    show.print(HELP)
    while True:
        try:
            line = read(f"{PEOPLE[user][0]} in #{CHANNELS[channel]}> ").strip()
        except EOFError:
            return
        if not line:
            continue
        try:
            if line in (":quit", ":q"):
                return
            if line.startswith("/jira"):
                show.show_private(
                    user, world.slash(user, channel, line.removeprefix("/jira").strip())
                )
            elif line.startswith(":as "):
                user = next(uid for uid, p in PEOPLE.items() if p[0] == line.split()[1])
            elif line.startswith(":in "):
                channel = next(
                    cid for cid, name in CHANNELS.items() if name == line.split()[1].lstrip("#")
                )
            elif line.startswith(":jira-as "):
                jira_user = f"{line.split()[1]}@example.com"
            elif line.startswith(":shortcut"):
                parts = line.split()
                ts = parts[2] if len(parts) > 2 else last_ts
                if ts is None:
                    show.print("  no message yet: say something first")
                    continue
                trigger = world.message_shortcut(user, parts[1], channel, ts)
                ready = "summary" if parts[1] == "create_issue_from_message" else "issue"
                view = world.modal(trigger, ready_block=ready)
                modal = (trigger, view)
                show.show_modal(user, view)
            elif line == ":submit":
                if modal is None:
                    show.print("  no modal is open")
                    continue
                world.submit(user, modal[1], form_values(modal[1]))
                modal = None
            elif line.startswith(":jira "):
                _act_in_jira(world, jira_user, shlex.split(line)[1:])
            elif line == ":show":
                show._seen.clear()
            elif line.startswith(":"):
                show.print(HELP)
                continue
            else:
                last_ts = world.say(user, channel, line)
            world.settle()
            show.show_channels()
        except Exception as exc:  # a typo must not end the session
            show.print(f"  ({type(exc).__name__}: {exc})")


def _act_in_jira(world: DemoWorld, email: str, words: list[str]) -> None:
    verb, key, *rest = words
    with world.in_jira_as(email) as jira:
        if verb == "move":
            world.move(key, " ".join(rest))
        elif verb == "comment":
            jira.add_comment(key, " ".join(rest))
        elif verb == "assign":
            who = rest[0] if rest else "none"
            jira.assign_issue(key, None if who == "none" else f"acc-{who}")
        elif verb == "create":
            jira.add_issue(key.upper(), " ".join(rest) or "New issue")
        else:
            raise ValueError(f"unknown Jira action {verb}")
