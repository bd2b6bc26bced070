from __future__ import annotations

from services.notifications.render import render_notification

ISSUE = {"key": "OPS-7", "summary": "Rotate certs", "status": "In Progress",
         "url": "https://jira.example.com/browse/OPS-7"}  # fmt: skip


def test_each_change_is_a_line_and_the_card_buttons_follow() -> None:
    text, blocks = render_notification(
        {
            "issue": ISSUE,
            "changes": [
                {"kind": "status", "actor": "Bob", "old": "To Do", "new": "In Progress"},
                {"kind": "comment_added", "actor": "Carol", "comment": "On it *now*"},
            ],
        }
    )
    assert "*Bob* moved <https://jira.example.com/browse/OPS-7|OPS-7> To Do → In Progress" in text
    assert ">On it *now*" in text
    actions = blocks[-1]
    assert actions["type"] == "actions" and actions["block_id"] == "card:OPS-7:actions"
    labels = [e.get("text", {}).get("text") for e in actions["elements"] if e["type"] == "button"]
    assert labels == ["Assign to me", "Comment", "Open in Jira"]


def test_a_deleted_issue_gets_no_buttons() -> None:
    _, blocks = render_notification(
        {"issue": ISSUE, "changes": [{"kind": "deleted", "actor": "Bob"}]}
    )
    assert all(block["type"] != "actions" for block in blocks)
    assert "no longer linked here" in str(blocks)
