"""Pure builders and decisions: cards and their in-place re-render, which messages are
previewed, which links unfurl, which events are worth recording, mentions, App Home."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clients.jira_client import JiraIssue, JiraUser, Transition
from handlers import cards
from handlers.app_home import home_view
from handlers.card_actions import transition_options
from handlers.card_comment import comment_modal, place_of, read_comment
from handlers.card_places import CardPlace
from handlers.channel_settings import settings_text
from handlers.mentions import command_text, create_prompt, without_share_buttons
from handlers.payloads import MessageEvent, ViewSubmission
from handlers.previews import jira_link_keys, preview_keys, preview_message
from services.channel_settings import ChannelSettingsView
from services.issues import card_parts
from services.issues.app_home import HomeData, SubscriptionLine, my_open_issues_jql
from services.policy import ConnectPolicy

JIRA = "https://acme.atlassian.net"
POLICY = ConnectPolicy(allowed_projects=frozenset({"OPS", "WEB"}), jira_base_url=JIRA)
BOT = "UCONNECTBOT"


def issue(key: str = "OPS-1", **fields: Any) -> JiraIssue:
    values: dict[str, Any] = {
        "id": "10001",
        "key": key,
        "url": f"{JIRA}/browse/{key}",
        "summary": "Backup <fails> & retries",
        "status": "In Progress",
        "status_category": "indeterminate",
        "issue_type": "Bug",
        "project_key": key.split("-")[0],
        "priority": "High",
        "assignee": JiraUser("acc-alice", "Alice Adams"),
    }
    values.update(fields)
    return JiraIssue(**values)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element["action_id"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# -- cards ------------------------------------------------------------------------------------


def test_a_full_card_has_every_button_and_block_ids_naming_its_issue() -> None:
    card = cards.issue_card(issue(), share=True)
    assert [b["block_id"] for b in card] == [
        "card:OPS-1:title",
        "card:OPS-1:fields",
        "card:OPS-1:actions",
    ]
    assert action_ids(card) == [
        "share_issue",
        "card_assign_me",
        "card_transition",
        "card_comment",
        "open_in_jira",
    ]
    select = card[2]["elements"][2]
    assert select["type"] == "external_select" and select["min_query_length"] == 0
    assert "Backup &lt;fails&gt; &amp; retries" in json.dumps(card)


def test_a_compact_card_is_one_line_plus_buttons_and_a_note() -> None:
    card = cards.issue_card(issue(assignee=None), compact=True, note="<@U1> did it")
    assert [b["block_id"] for b in card] == [
        "card:OPS-1:summary",
        "card:OPS-1:actions",
        "card:OPS-1:note",
    ]
    assert "Unassigned" in card[0]["text"]["text"]
    assert "share_issue" not in action_ids(card)
    assert card[2]["elements"][0]["text"] == "<@U1> did it"


def test_key_of_block() -> None:
    assert card_parts.key_of_block("card:OPS-12:actions") == "OPS-12"
    assert card_parts.key_of_block("issue:OPS-12") == "OPS-12"
    assert card_parts.key_of_block("card:not a key:actions") is None
    assert card_parts.key_of_block("issue") is None
    assert card_parts.key_of_block(None) is None


def test_replace_card_keeps_other_blocks_and_the_cards_form() -> None:
    other = {"type": "context", "elements": [{"type": "mrkdwn", "text": "Shared by <@U1>"}]}
    two = [
        *cards.issue_card(issue("OPS-1"), compact=True),
        *cards.issue_card(issue("OPS-2"), compact=True),
        other,
    ]
    moved = issue("OPS-2", status="Done", status_category="done")
    replaced = cards.replace_card(two, "OPS-2", moved, note="moved")
    assert replaced[:2] == two[:2] and replaced[-1] == other
    assert [b["block_id"] for b in replaced[2:5]] == [
        "card:OPS-2:summary",
        "card:OPS-2:actions",
        "card:OPS-2:note",
    ]
    assert "Done" in replaced[2]["text"]["text"]
    # Again: the old note is replaced, not stacked.
    again = cards.replace_card(replaced, "OPS-2", moved, note="again")
    assert len(again) == len(replaced) and again[4]["elements"][0]["text"] == "again"


def test_replace_card_keeps_share_on_an_ephemeral_card_and_appends_a_missing_one() -> None:
    shown = cards.issue_card(issue(), share=True)
    assert "share_issue" in action_ids(cards.replace_card(shown, "OPS-1", issue()))
    appended = cards.replace_card([{"type": "divider"}], "OPS-1", issue(), note="x")
    assert appended[0] == {"type": "divider"} and appended[1]["block_id"] == "card:OPS-1:title"


# -- previews ---------------------------------------------------------------------------------


def message(text: str, **fields: Any) -> MessageEvent:
    return MessageEvent.model_validate(
        {"type": "message", "channel": "C1", "ts": "1.1", "user": "U1", "text": text, **fields}
    )


def keys(text: str, **fields: Any) -> list[str]:
    return preview_keys(message(text, **fields), bot_user_id=BOT, policy=POLICY)


def test_a_persons_message_with_allowed_keys_is_previewed() -> None:
    assert keys("OPS-1 and WEB-2, then OPS-1 again; ABC-9 is not ours") == ["OPS-1", "WEB-2"]
    assert keys("shared a file about OPS-3", subtype="file_share") == ["OPS-3"]
    assert keys("ops-1, xOPS-1, OPS-1x, UTF-8") == []


def test_other_messages_are_not_previewed() -> None:
    assert keys("OPS-1", bot_id="B1") == []
    assert keys("OPS-1", user=BOT) == []
    assert keys("OPS-1", user=None) == []
    assert keys("OPS-1", hidden=True) == []
    for subtype in ("message_changed", "channel_join", "bot_message", "thread_broadcast"):
        assert keys("OPS-1", subtype=subtype) == []
    assert keys(f"<@{BOT}> show OPS-1") == []  # the mention is answered instead


def test_jira_links_are_left_to_unfurls_and_other_links_keep_their_label() -> None:
    assert keys(f"see <{JIRA}/browse/OPS-1|OPS-1> and <{JIRA}/browse/OPS-2>") == []
    assert keys("<https://github.com/acme/pr/7|fixes OPS-4> <https://x.io/?k=OPS-5>") == ["OPS-4"]


def test_at_most_five_keys_a_message() -> None:
    text = " ".join(f"OPS-{n}" for n in range(1, 9))
    assert keys(text) == ["OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5"]


def test_jira_link_keys_take_browse_links_of_the_site_and_allowed_projects() -> None:
    found = jira_link_keys(
        [
            f"{JIRA}/browse/OPS-1",
            f"{JIRA}/browse/web-2/",
            f"{JIRA}/browse/ABC-3",
            f"{JIRA}/projects/OPS/issues/OPS-4",
            "https://evil.example.com/browse/OPS-5",
            f"{JIRA}/browse/OPS-6?focusedCommentId=1&amp;page=x",
        ],
        policy=POLICY,
    )
    assert list(found.values()) == ["OPS-1", "WEB-2", "OPS-6"]


def test_jira_link_keys_honour_a_context_path() -> None:
    policy = ConnectPolicy(jira_base_url="https://jira.acme.com/jira")
    assert jira_link_keys(["https://jira.acme.com/jira/browse/OPS-1"], policy=policy)
    assert not jira_link_keys(["https://jira.acme.com/browse/OPS-1"], policy=policy)
    assert not jira_link_keys([f"{JIRA}/browse/OPS-1"], policy=ConnectPolicy())


def test_one_preview_message_lists_every_issue_compactly() -> None:
    built = preview_message([issue("OPS-1"), issue("WEB-2")])
    assert built["text"].startswith("OPS-1: Backup")
    assert [b["block_id"] for b in built["blocks"] if b["type"] == "section"] == [
        "card:OPS-1:summary",
        "card:WEB-2:summary",
    ]


# -- mentions, transitions, comments ----------------------------------------------------------


def test_command_text_drops_the_mention_of_connect() -> None:
    assert command_text(f"<@{BOT}> assign OPS-1 <@U2|bob>", BOT) == "assign OPS-1 <@U2|bob>"
    assert command_text(f"hey <@{BOT}|connect>   help", BOT) == "hey help"
    assert command_text("<@UX> help", None) == "help"


def test_create_prompt_carries_the_words_and_share_buttons_go_from_public_replies() -> None:
    prompt = create_prompt("OPS Printer <on> fire")
    button = prompt["blocks"][1]["elements"][0]
    assert button["value"] == "OPS Printer <on> fire" and "&lt;on&gt;" in prompt["text"]
    public = without_share_buttons(cards.issue_card(issue(), share=True))
    assert "share_issue" not in action_ids(public) and "card_assign_me" in action_ids(public)


def test_transition_options_name_the_target_and_filter_by_what_is_typed() -> None:
    transitions = [
        Transition("11", "Start progress", "In Progress"),
        Transition("21", "Done", "Done"),
        Transition("31", "x" * 90, "Closed"),
    ]
    options = transition_options(transitions)
    assert [o["text"]["text"] for o in options][:2] == ["Start progress → In Progress", "Done"]
    assert [o["value"] for o in options][:2] == ["Start progress", "Done"]
    assert len(options[2]["text"]["text"]) == 75
    assert [o["value"] for o in transition_options(transitions, "PROG")] == ["Start progress"]


def test_the_comment_modal_round_trips_where_the_card_was() -> None:
    place = CardPlace("T1", "U1", "OPS-1", "C1", "1.1")
    view = comment_modal(place, trigger_id="trig")
    assert view["title"]["text"] == "Comment on OPS-1"
    submission = ViewSubmission.model_validate(
        {
            "team": {"id": "T1"},
            "user": {"id": "U1"},
            "view": {
                "id": "V1",
                "private_metadata": view["private_metadata"],
                "state": {"values": {"comment": {"comment": {"value": "hi"}}}},
            },
        }
    )
    assert place_of(submission) == place
    assert read_comment(submission.view.state) == "hi"
    assert read_comment({}) == ""
    broken = submission.model_copy(
        update={"view": submission.view.model_copy(update={"private_metadata": "{}"})}
    )
    with pytest.raises(ValueError, match="names no issue"):
        place_of(broken)


# -- App Home and settings --------------------------------------------------------------------


def test_home_view_for_a_mapped_person() -> None:
    data = HomeData(
        JiraUser("acc-alice", "Alice Adams"),
        "alice@example.com",
        (issue("OPS-1"),),
        (SubscriptionLine("C1", 2, "OPS", "priority = High", ("created", "commented")),),
    )
    view = home_view(data)
    text = json.dumps(view)
    assert view["type"] == "home"
    assert "Alice Adams" in text and "OPS-1" in text and "Refresh" in text
    assert "<#C1> #2: *OPS* · `priority = High` · created, commented" in str(view)


def test_home_view_unmapped_and_when_jira_is_down() -> None:
    unmapped = json.dumps(home_view(HomeData(None, None, (), ())))
    assert "not connected to Jira" in unmapped and "Connect your Jira account" in unmapped
    assert "None yet" in unmapped
    down = json.dumps(home_view(HomeData(None, None, None, (), "Jira is not reachable")))
    assert "Jira is not reachable" in down and "can't be shown right now" in down
    noticed = json.dumps(home_view(HomeData(None, None, (), ()), notice="No account"))
    assert "No account" in noticed


def test_my_open_issues_jql_quotes_the_account() -> None:
    assert my_open_issues_jql('a"b') == (
        'assignee = "a\\"b" AND statusCategory != Done ORDER BY updated DESC'
    )


def test_settings_text() -> None:
    text = settings_text(ChannelSettingsView("C1", False, "important"), "`/jira settings …`")
    assert "previews: *off*" in text and "important changes only" in text
    assert "previews: *on*" in settings_text(ChannelSettingsView("C1"), "u")
