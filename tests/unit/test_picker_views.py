"""The message shortcuts' modals and the issue picker's options: pure builders."""

from __future__ import annotations

import json

from clients.jira_client import JiraIssue
from handlers.picker_views import (
    COMMENT_CALLBACK_ID,
    LINK_CALLBACK_ID,
    PRIVATE_NOTICE,
    comment_modal,
    issue_input,
    issue_option,
    issue_options,
    link_modal,
    message_preview,
    notice_modal,
)
from handlers.shortcut_payloads import MessageShortcut, SourceMessage


def issue(key: str = "OPS-1", summary: str = "Nightly backup fails") -> JiraIssue:
    return JiraIssue(
        id="10001",
        key=key,
        url=f"https://acme.atlassian.net/browse/{key}",
        summary=summary,
        status="To Do",
        status_category="new",
        issue_type="Bug",
        project_key=key.split("-")[0],
    )


def source(**fields: object) -> SourceMessage:
    values: dict[str, object] = {
        "team_id": "T1",
        "channel_id": "C1",
        "message_ts": "1700000000.000100",
        "author_id": "U0BOB",
    }
    return SourceMessage.model_validate(values | fields)


def shortcut(channel: dict[str, object], **message: object) -> MessageShortcut:
    return MessageShortcut.model_validate(
        {
            "type": "message_action",
            "callback_id": "comment_on_issue_from_message",
            "trigger_id": "1.2.3",
            "team": {"id": "T1", "domain": "acme"},
            "user": {"id": "U0ALICE", "team_id": "T1"},
            "channel": channel,
            "message": {"type": "message", "ts": "1700000000.000100", "text": "hi"} | message,
        }
    )


def test_an_option_is_key_and_summary_and_its_value_the_key() -> None:
    assert issue_option(issue()) == {
        "text": {"type": "plain_text", "text": "OPS-1 · Nightly backup fails", "emoji": True},
        "value": "OPS-1",
    }


def test_a_long_summary_is_cut_to_slacks_75_characters() -> None:
    text = issue_option(issue(summary="word " * 40))["text"]["text"]
    assert len(text) == 75 and text.startswith("OPS-1 · word word") and text.endswith("…")


def test_options_keep_the_order_they_are_given() -> None:
    found = issue_options([issue("OPS-2"), issue("OPS-1")])
    assert [o["value"] for o in found] == ["OPS-2", "OPS-1"]
    assert issue_options([]) == []


def test_the_picker_is_a_labelled_external_select() -> None:
    assert issue_input() == {
        "type": "input",
        "block_id": "issue",
        "label": {"type": "plain_text", "text": "Issue", "emoji": True},
        "element": {
            "type": "external_select",
            "action_id": "issue_picker",
            "min_query_length": 1,
            "placeholder": {"type": "plain_text", "text": "Type a key or words", "emoji": True},
        },
    }


def test_link_modal_carries_the_source_message() -> None:
    view = link_modal(source(thread_ts="1699999999.000100"))
    assert view["type"] == "modal" and view["callback_id"] == LINK_CALLBACK_ID
    assert view["title"]["text"] == "Link to Jira issue"
    assert view["submit"]["text"] == "Link"
    assert view["blocks"][0] == issue_input()
    back = SourceMessage.from_metadata(view["private_metadata"])
    assert back == source(thread_ts="1699999999.000100")
    assert back.reply_ts == "1699999999.000100"


def test_comment_modal_previews_the_message() -> None:
    view = comment_modal(source(text="The replica is *back*"))
    assert view["callback_id"] == COMMENT_CALLBACK_ID
    assert view["title"]["text"] == "Comment on Jira issue"
    assert view["blocks"][0]["type"] == "context"
    assert view["blocks"][0]["elements"][0]["text"] == "<@U0BOB>: “The replica is *back*”"
    assert issue_input() in view["blocks"]
    assert PRIVATE_NOTICE not in str(view["blocks"])


def test_comment_modal_from_a_private_channel_says_who_will_see_the_text() -> None:
    view = comment_modal(source(text="salaries", private=True))
    assert view["blocks"][-1]["elements"][0]["text"] == PRIVATE_NOTICE
    assert "visible to everyone who can see the Jira issue" in PRIVATE_NOTICE


def test_preview_is_short_and_says_when_there_is_no_text() -> None:
    long = message_preview(source(text="word " * 200))
    assert len(long) < 230 and long.endswith("…”")
    assert message_preview(source(text="")) == "<@U0BOB>: _(a message with no text)_"
    app = message_preview(source(author_id=None, author_name="Deploy <Bot>", text="failed"))
    assert app == "Deploy &lt;Bot&gt;: “failed”"


def test_notice_modal_has_nothing_to_submit() -> None:
    view = notice_modal(LINK_CALLBACK_ID, "Link to Jira issue", "Invite me first.")
    assert "submit" not in view and view["close"]["text"] == "Close"
    assert view["blocks"][0]["text"]["text"] == "Invite me first."


def test_a_long_text_is_cut_to_fit_the_metadata_and_marked() -> None:
    text = 'line "one"\n' * 600  # about 6,600 characters, more once JSON-escaped
    metadata = source(text=text).to_metadata()
    assert len(metadata) <= 3000
    back = SourceMessage.from_metadata(metadata)
    assert not back.text_complete and text.startswith(back.text) and len(back.text) > 2000
    short = SourceMessage.from_metadata(source(text="ünïcode ✓").to_metadata())
    assert short.text == "ünïcode ✓" and short.text_complete


def test_privacy_comes_from_the_payloads_channel() -> None:
    def private(channel: dict[str, object]) -> bool:
        return SourceMessage.from_shortcut(shortcut(channel), with_text=True).private

    assert private({"id": "C0BC51KQWTX", "name": "privategroup"})
    assert private({"id": "D024BE91L", "name": "directmessage"})
    assert private({"id": "G024BE91L", "name": "mpdm-alice--bob-1"})
    assert not private({"id": "C024BE91L", "name": "general"})


def test_source_from_a_bot_message_and_a_thread_reply() -> None:
    bot = shortcut(
        {"id": "C1", "name": "general"},
        user=None,
        bot_id="B1",
        username="deploybot",
        bot_profile={"name": "Deploy Bot"},
    )
    found = SourceMessage.from_shortcut(bot, with_text=False)
    assert found.author_id is None and found.author_name == "Deploy Bot" and found.text == ""
    reply = shortcut({"id": "C1", "name": "general"}, thread_ts="1699999999.000100")
    assert SourceMessage.from_shortcut(reply, with_text=True).reply_ts == "1699999999.000100"
    parent = shortcut({"id": "C1", "name": "general"}, thread_ts="1700000000.000100")
    assert SourceMessage.from_shortcut(parent, with_text=True).thread_ts is None


def test_metadata_is_compact_json() -> None:
    assert json.loads(source().to_metadata()) == {
        "team_id": "T1",
        "channel_id": "C1",
        "message_ts": "1700000000.000100",
        "author_id": "U0BOB",
    }
