"""InMemorySlack behaves like the Slack Web API where Connect relies on it."""

from __future__ import annotations

import threading

import pytest

from clients.slack_client import (
    PostedMessage,
    SlackClient,
    SlackError,
    SlackNotInChannel,
    SlackUnavailable,
)
from simulators.slack_workspace.memory import InMemorySlack
from simulators.slack_workspace.transcript import blocks_text

OUTBOX = "connect_outbox"


@pytest.fixture
def slack() -> InMemorySlack:
    fake = InMemorySlack(auto_create_channels=False)
    fake.add_user("U1", "alice", real_name="Alice Smith", email="alice@example.com")
    fake.add_user("U2", "bob", real_name="Bob Jones")
    fake.add_channel("C1", "support", members=["U1"])
    fake.add_channel("C2", "random", members=["U1", "U2"], bot_is_member=False)
    fake.add_channel("G1", "secret", members=["U2"], is_private=True, bot_is_member=False)
    return fake


def _meta(key: str) -> dict[str, object]:
    return {"event_type": OUTBOX, "event_payload": {"key": key}}


def test_satisfies_the_slack_client_protocol(slack: InMemorySlack) -> None:
    client: SlackClient = slack
    assert client.post_message("C1", text="hi").channel == "C1"


def test_posts_are_recorded_with_increasing_ts(slack: InMemorySlack) -> None:
    first = slack.post_message("C1", text="one", metadata=_meta("a"))
    second = slack.post_message("C1", text="two", blocks=[{"type": "divider"}], thread_ts=first.ts)

    assert float(second.ts) > float(first.ts)
    one, two = slack.messages["C1"]
    assert (one.text, one.metadata, one.user) == ("one", _meta("a"), slack.bot_user_id)
    assert (two.thread_ts, two.blocks, two.is_reply) == (first.ts, [{"type": "divider"}], True)
    assert [c.method for c in slack.calls] == ["post_message", "post_message"]
    assert slack.calls[1].args["thread_ts"] == first.ts


def test_ts_stay_unique_and_increasing_under_concurrency() -> None:
    slack = InMemorySlack(clock=lambda: 1_700_000_000.0)

    def post(n: int) -> None:
        for i in range(50):
            slack.post_message("C9", text=f"{n}-{i}")

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stamps = [m.ts for m in slack.messages["C9"]]
    assert len(stamps) == len(set(stamps)) == 400
    assert [float(ts) for ts in stamps] == sorted(float(ts) for ts in stamps)
    assert stamps[0] == "1700000000.000000"


def test_bot_must_be_in_the_channel(slack: InMemorySlack) -> None:
    with pytest.raises(SlackNotInChannel) as public:
        slack.post_message("C2", text="hi")
    with pytest.raises(SlackNotInChannel) as private:
        slack.post_message("G1", text="hi")
    with pytest.raises(SlackNotInChannel) as unknown:
        slack.post_message("CNOPE", text="hi")

    assert (public.value.error, private.value.error, unknown.value.error) == (
        "not_in_channel",
        "channel_not_found",
        "channel_not_found",
    )
    slack.add_member("C2", slack.bot_user_id)
    assert slack.post_message("C2", text="hi").channel == "C2"


def test_auto_created_channels_include_the_bot() -> None:
    slack = InMemorySlack()
    assert slack.post_message("CNEW", text="hi").channel == "CNEW"
    assert slack.channel_info("CNEW").is_member is True


def test_update_message_edits_only_the_bots_messages(slack: InMemorySlack) -> None:
    posted = slack.post_message("C1", text="old")
    theirs = slack.add_message("C1", "mine", user="U1")

    slack.update_message("C1", posted.ts, text="new", blocks=[{"type": "divider"}])

    message = slack.message("C1", posted.ts)
    assert message is not None
    assert (message.text, message.blocks, message.edited) == ("new", [{"type": "divider"}], True)
    with pytest.raises(SlackError, match="cant_update_message"):
        slack.update_message("C1", theirs.ts, text="x")
    with pytest.raises(SlackError, match="message_not_found"):
        slack.update_message("C1", "1.000001", text="x")


def test_ephemeral_permalink_and_unfurl(slack: InMemorySlack) -> None:
    parent = slack.add_message("C1", "help", user="U1")
    reply = slack.post_message("C1", text="on it", thread_ts=parent.ts)

    slack.post_ephemeral("C1", "U1", text="only you")
    slack.unfurl("C1", parent.ts, {"https://x.atlassian.net/browse/A-1": {"text": "A-1"}})

    assert [(e.channel, e.user, e.text) for e in slack.ephemerals] == [("C1", "U1", "only you")]
    assert slack.unfurls[0].ts == parent.ts
    digits = parent.ts.replace(".", "")
    assert slack.get_permalink("C1", parent.ts).endswith(f"/archives/C1/p{digits}")
    assert f"?thread_ts={parent.ts}&cid=C1" in slack.get_permalink("C1", reply.ts)
    with pytest.raises(SlackError, match="message_not_found"):
        slack.get_permalink("C1", "1.000001")


def test_users_channels_and_membership(slack: InMemorySlack) -> None:
    user = slack.user_info("U1")
    assert (user.real_name, user.email, user.is_bot) == ("Alice Smith", "alice@example.com", False)
    with pytest.raises(SlackError, match="user_not_found"):
        slack.user_info("U404")

    assert slack.channel_info("C2").is_member is False
    assert slack.is_member("C2", "U2") is True
    assert slack.is_member("C1", "U2") is False
    with pytest.raises(SlackNotInChannel):
        slack.is_member("G1", "U2")


def test_dm_by_open_dm_or_by_user_id(slack: InMemorySlack) -> None:
    dm = slack.open_dm("U1")

    posted = slack.post_message("U1", text="your issue")

    assert posted == PostedMessage(channel=dm, ts=posted.ts)
    info = slack.channel_info(dm)
    assert (info.is_im, info.is_private, info.is_member) == (True, True, True)
    assert slack.channel_name(dm) == "DM with Alice Smith"
    with pytest.raises(SlackError, match="user_not_found"):
        slack.open_dm("U404")


def test_find_message_by_metadata(slack: InMemorySlack) -> None:
    parent = slack.post_message("C1", text="top", metadata=_meta("top"))
    slack.post_message("C1", text="r1", thread_ts=parent.ts, metadata=_meta("r1"))
    later = slack.post_message("C1", text="r2", thread_ts=parent.ts, metadata=_meta("r2"))

    def find(key: str, **kwargs: str) -> str | None:
        return slack.find_message_by_metadata(
            "C1", event_type=OUTBOX, key_field="key", key=key, **kwargs
        )

    assert find("r2", thread_ts=parent.ts) == later.ts
    assert find("top") == parent.ts
    assert find("r2") is None  # replies are not in the channel's history
    assert find("r1", thread_ts=parent.ts, oldest=later.ts) is None
    assert (
        slack.find_message_by_metadata("C1", event_type="other", key_field="key", key="top") is None
    )
    with pytest.raises(SlackNotInChannel, match="not_in_channel"):
        slack.find_message_by_metadata("C2", event_type=OUTBOX, key_field="key", key="top")


def test_fail_next_by_method_and_times(slack: InMemorySlack) -> None:
    slack.fail_next("ratelimited", method="post_message", times=2)

    assert slack.user_info("U1").id == "U1"  # method-specific failures wait for their method
    slack.fail_next(SlackUnavailable("connection_error", retry_after=3))
    with pytest.raises(SlackUnavailable, match="ratelimited"):
        slack.post_message("C1", text="a")
    with pytest.raises(SlackUnavailable, match="ratelimited"):
        slack.post_message("C1", text="b")
    with pytest.raises(SlackUnavailable, match="connection_error") as caught:
        slack.get_permalink("C1", "1.0")
    assert caught.value.retry_after == 3
    assert slack.post_message("C1", text="c").channel == "C1"
    assert [m.text for m in slack.messages["C1"]] == ["c"]
    assert len(slack.calls_to("post_message")) == 3


def test_fail_next_maps_codes_to_error_classes(slack: InMemorySlack) -> None:
    slack.fail_next("not_in_channel")
    with pytest.raises(SlackNotInChannel):
        slack.open_dm("U1")
    slack.fail_next("invalid_blocks")
    with pytest.raises(SlackError) as caught:
        slack.post_message("C1", text="x")
    assert type(caught.value) is SlackError


def test_empty_message_is_refused(slack: InMemorySlack) -> None:
    with pytest.raises(SlackError, match="no_text"):
        slack.post_message("C1", text="")


def test_transcript_reads_like_slack(slack: InMemorySlack) -> None:
    source = slack.add_message("C1", "The checkout page is broken", user="U1")
    card = [
        {"type": "header", "text": {"type": "plain_text", "text": "ABC-1 Checkout broken"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Status:* To Do"}]},
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"}}],
        },
    ]
    slack.post_message("C1", text="Created ABC-1", blocks=card, thread_ts=source.ts)
    slack.post_ephemeral("C1", "U2", text="Linked.")

    text = slack.transcript()

    assert text.splitlines() == [
        "#support",
        "  alice: The checkout page is broken",
        "    ↳ Connect:",
        "        │ ABC-1 Checkout broken",
        "        │ *Status:* To Do",
        "        │ [Open]",
        "  (only bob sees) Connect: Linked.",
    ]


def test_blocks_text_covers_common_blocks() -> None:
    blocks = [
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "by Alice"},
                {"type": "plain_text", "text": "now"},
            ],
        },
        {"type": "divider"},
        {"type": "markdown", "text": "**bold**"},
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "hi "},
                        {"type": "user", "user_id": "U1"},
                    ],
                }
            ],
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "pick"},
            "accessory": {
                "type": "static_select",
                "placeholder": {"type": "plain_text", "text": "Status"},
            },
        },
        {"type": "input", "label": {"type": "plain_text", "text": "Summary"}},
    ]

    assert blocks_text(blocks) == [
        "by Alice · now",
        "───",
        "**bold**",
        "hi <@U1>",
        "pick",
        "[Status ▾]",
        "Summary: …",
    ]


def test_thread_messages_answer_like_conversations_replies(slack: InMemorySlack) -> None:
    parent = slack.add_message("C1", "the parent", user="U1")
    first = slack.add_message("C1", "first", user="U2", thread_ts=parent.ts)
    second = slack.add_message("C1", "second", user="U1", thread_ts=parent.ts)

    thread = slack.thread_messages("C1", parent.ts)

    assert [m["text"] for m in thread] == ["the parent", "first", "second"]
    assert thread[0]["reply_count"] == 2
    since = slack.thread_messages("C1", parent.ts, oldest=second.ts, limit=2)
    assert [m["ts"] for m in since] == [parent.ts, second.ts]
    assert [m["ts"] for m in slack.thread_messages("C1", parent.ts, limit=2)] == [
        parent.ts,
        first.ts,
    ]
    with pytest.raises(SlackNotInChannel):
        slack.thread_messages("C2", parent.ts)
    with pytest.raises(SlackError) as missing:
        slack.thread_messages("C1", "1.000001")
    assert missing.value.error == "thread_not_found"


def test_view_updates_and_responses_are_recorded(slack: InMemorySlack) -> None:
    view = {"type": "modal", "blocks": []}

    slack.update_view(view, external_id="ext-1")
    slack.respond("https://hooks.example/response/1", {"text": "done"})

    assert slack.view_updates == [("ext-1", view)]
    assert slack.responses == [("https://hooks.example/response/1", {"text": "done"})]
    with pytest.raises(SlackError) as unnamed:
        slack.update_view(view)
    assert unnamed.value.error == "invalid_arguments"


def test_unfurls_in_the_composer_are_recorded_by_unfurl_id(slack: InMemorySlack) -> None:
    unfurls = {"https://jira.example/browse/ABC-1": {"blocks": []}}

    slack.unfurl_in_composer("draft.1.abc", "composer", unfurls)

    assert [(u.channel, u.ts, u.unfurls) for u in slack.unfurls] == [
        ("composer", "draft.1.abc", unfurls)
    ]
    with pytest.raises(SlackError) as unnamed:
        slack.unfurl_in_composer("", "composer", unfurls)
    assert unnamed.value.error == "cannot_find_message"


def test_published_homes_are_kept_per_user(slack: InMemorySlack) -> None:
    home = {"type": "home", "blocks": []}

    slack.publish_home("U1", home)

    assert slack.homes == {"U1": home}
    with pytest.raises(SlackError) as unknown:
        slack.publish_home("U0NOBODY", home)
    assert unknown.value.error == "user_not_found"
    with pytest.raises(SlackError) as modal:
        slack.publish_home("U1", {"type": "modal", "blocks": []})
    assert modal.value.error == "invalid_arguments"
