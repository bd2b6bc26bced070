"""Realistic Slack payloads Connect handles, and hypothesis strategies that break them.

Each template is what Slack sends for one of Connect's own callback or action ids (see
handlers/); `mutated(template)` keeps most of it and breaks some of it: keys dropped, values
nulled, swapped for another type, for a huge or hostile string, or for one of Connect's other
ids, and unknown keys added.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import strategies as st

from handlers.app_home import CONNECT_ACTION
from handlers.card_comment import CALLBACK_ID as CARD_COMMENT_CALLBACK
from handlers.create_views import CALLBACK_ID as CREATE_CALLBACK
from handlers.create_views import PROJECT_ACTION, TYPE_ACTION
from handlers.mentions import CREATE_ACTION as MENTION_CREATE_ACTION
from handlers.picker_views import COMMENT_CALLBACK_ID, ISSUE_BLOCK, LINK_CALLBACK_ID, PICKER_ACTION
from services.issues import card_parts

TEAM = "T0TEAM"
USER = "U0ALICE"
CHANNEL = "C0GENERAL"
APP = "A0CONNECT"
BOT_USER = "UCONNECTBOT"
RESPONSE_URL = "https://hooks.slack.com/actions/T0TEAM/1/fuzz"

ACTION_IDS = [
    card_parts.SHARE_ACTION,
    card_parts.OPEN_ACTION,
    card_parts.ASSIGN_ME_ACTION,
    card_parts.TRANSITION_ACTION,
    card_parts.COMMENT_ACTION,
    CONNECT_ACTION,
    MENTION_CREATE_ACTION,
    PROJECT_ACTION,
    TYPE_ACTION,
    PICKER_ACTION,
]
CALLBACK_IDS = [
    "create_issue",
    "create_issue_from_message",
    "link_message_to_issue",
    "comment_on_issue_from_message",
    CREATE_CALLBACK,
    LINK_CALLBACK_ID,
    COMMENT_CALLBACK_ID,
    CARD_COMMENT_CALLBACK,
]
KEYS = ["OPS-1", "OPS-2", "WEB-1", "OPS-999999", "NOPE-1", "ops-1", "OPS-0", "A-1"]

# -- text ---------------------------------------------------------------------------------------

SLACK_MARKUP = st.sampled_from(
    [
        "<@U0BOB>",
        "<@U0BOB|bob>",
        "<@W123|élodie>",
        "<#C0GENERAL|general>",
        "<#C1|>",
        "<!here>",
        "<!subteam^S123|@team>",
        "<mailto:alice@example.com|alice@example.com>",
        "<https://fuzz.atlassian.net/browse/OPS-1|OPS-1>",
        "&lt;",
        "&gt;",
        "&amp;",
        "&amp;lt;",
        "`",
        "```",
        "*",
        "--events",
        "--events=",
        "project = OPS AND status != Done",
        "ORDER BY",
        '"',
        "'",
        "\\",
        "%",
        "\u202e",
        "\u200b",
        "\x00",
        "\r\n",
        "\t",
        "🦄",
        "Ω",
    ]
)
WORDS = st.sampled_from(
    [
        "help",
        "create",
        "show",
        "search",
        "transition",
        "move",
        "assign",
        "comment",
        "link",
        "unlink",
        "links",
        "subscribe",
        "subscriptions",
        "unsubscribe",
        "connect",
        "whoami",
        "disconnect",
        "settings",
        "previews",
        "notify",
        "on",
        "off",
        "all",
        "important",
        "me",
        "none",
        "OPS",
        "WEB",
        "Done",
        "In Progress",
        "1",
        "0",
        "-1",
        "99999999999999999999",
        *KEYS,
    ]
)


def _huge(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda piece, n: piece * n, alphabet, st.integers(500, 20_000))


PIECES = st.one_of(WORDS, SLACK_MARKUP, st.text(max_size=12), st.just(" "))
command_text = st.one_of(
    st.lists(PIECES, max_size=12).map(" ".join),
    st.lists(PIECES, max_size=12).map("".join),
    st.text(),
    _huge(st.one_of(PIECES, st.characters())),
)
"""Text as it may reach /jira: words Connect knows, Slack's escapes, anything, huge."""

# -- junk and mutations -------------------------------------------------------------------------

junk: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    command_text,
    _huge(st.sampled_from(["a", "é", "<@U1>", "&amp;", "\x00"])),
    st.sampled_from(ACTION_IDS + CALLBACK_IDS + KEYS + ["", "unknown_id", "modal", "home"]),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.text(max_size=8)), max_size=3),
)


@st.composite
def _mutate(draw: st.DrawFn, value: Any, rate: int) -> Any:
    if draw(st.integers(0, 99)) < rate:
        return draw(junk)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if draw(st.integers(0, 99)) < rate:
                continue  # dropped
            out[key] = draw(_mutate(item, rate))
        if draw(st.integers(0, 99)) < rate:
            out[draw(st.text(max_size=10))] = draw(junk)
        return out
    if isinstance(value, list):
        items = [draw(_mutate(item, rate)) for item in value]
        if items and draw(st.integers(0, 99)) < rate:
            items.pop(draw(st.integers(0, len(items) - 1)))
        if draw(st.integers(0, 99)) < rate:
            items.append(draw(junk))
        return items
    return value


def mutated(template: dict[str, Any]) -> st.SearchStrategy[Any]:
    """The template itself now and then, mostly broken in a few places, sometimes in many."""
    return st.one_of(
        st.just(template),
        st.integers(1, 12).flatmap(lambda rate: _mutate(template, rate)),
        st.integers(13, 60).flatmap(lambda rate: _mutate(template, rate)),
    )


# -- templates ------------------------------------------------------------------------------------


def _team_user() -> dict[str, Any]:
    return {
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": USER, "username": "alice", "name": "alice", "team_id": TEAM},
        "api_app_id": APP,
        "token": "deprecated-verification-token",
        "is_enterprise_install": False,
        "enterprise": None,
    }


def _card_blocks(key: str) -> list[dict[str, Any]]:
    prefix = card_parts.card_block_prefix(key)
    return [
        {
            "type": "section",
            "block_id": prefix + "summary",
            "text": {"type": "mrkdwn", "text": key},
        },
        {
            "type": "actions",
            "block_id": prefix + "actions",
            "elements": card_parts.action_elements(key, f"https://fuzz.atlassian.net/browse/{key}"),
        },
    ]


def card_action(
    action: dict[str, Any], *, key: str = "OPS-1", ephemeral: bool = False
) -> dict[str, Any]:
    ts = "1700000001.000100"
    return {
        "type": "block_actions",
        **_team_user(),
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": CHANNEL,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "1337.42.trigger",
        "channel": {"id": CHANNEL, "name": "general"},
        "message": {
            "type": "message",
            "user": BOT_USER,
            "ts": ts,
            "text": key,
            "blocks": _card_blocks(key),
        },
        "response_url": RESPONSE_URL,
        "actions": [
            {
                "block_id": card_parts.card_block_prefix(key) + "actions",
                "action_ts": "1700000002.1",
                **action,
            }
        ],
        "state": {"values": {}},
    }


def _button(action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": "x", "emoji": True},
    }


def create_metadata(source: str = "command") -> str:
    return json.dumps(
        {
            "source": source,
            "team_id": TEAM,
            "user_id": USER,
            "channel_id": CHANNEL,
            "message_ts": "1700000001.000100",
            "response_url": RESPONSE_URL,
        }
    )


def source_metadata() -> str:
    return json.dumps(
        {
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "message_ts": "1700000001.000100",
            "author_id": "U0BOB",
            "text": "The deploy is broken <@U0BOB> &amp; OPS-1",
        }
    )


def create_state() -> dict[str, Any]:
    def select(value: str) -> dict[str, Any]:
        return {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        }

    return {
        "values": {
            "project": {PROJECT_ACTION: select("OPS")},
            "issue_type": {TYPE_ACTION: select("10001")},
            "summary": {"summary": {"type": "plain_text_input", "value": "Deploy is broken"}},
            "description": {"description": {"type": "plain_text_input", "value": "It *is*."}},
            "priority": {"priority": select("3")},
            "assignee": {"assignee": {"type": "users_select", "selected_user": "U0BOB"}},
            "extra:option:customfield_1": {"value": select("a")},
            "extra:options:customfield_2": {
                "value": {"type": "multi_static_select", "selected_options": [{"value": "b"}]}
            },
            "extra:date:customfield_3": {
                "value": {"type": "datepicker", "selected_date": "2024-01-31"}
            },
            "extra:text:customfield_4": {"value": {"type": "plain_text_input", "value": "4"}},
        }
    }


def modal(callback_id: str, private_metadata: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "V0FUZZ",
        "team_id": TEAM,
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": private_metadata,
        "hash": "1700000000.abc",
        "state": state,
        "blocks": [],
        "title": {"type": "plain_text", "text": "Fuzz"},
        "root_view_id": "V0FUZZ",
        "previous_view_id": None,
        "app_id": APP,
        "bot_id": "B0CONNECT",
    }


def view_submission(
    callback_id: str, private_metadata: str, state: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        **_team_user(),
        "trigger_id": "1337.43.trigger",
        "view": modal(callback_id, private_metadata, state),
        "response_urls": [],
    }


def view_action(action: dict[str, Any], private_metadata: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        **_team_user(),
        "container": {"type": "view", "view_id": "V0FUZZ"},
        "trigger_id": "1337.44.trigger",
        "view": modal(CREATE_CALLBACK, private_metadata, create_state()),
        "actions": [{"block_id": "project", "action_ts": "1700000002.1", **action}],
    }


def picked_issue(key: str) -> dict[str, Any]:
    return {
        "values": {
            ISSUE_BLOCK: {
                PICKER_ACTION: {
                    "type": "external_select",
                    "selected_option": {"text": {"type": "plain_text", "text": key}, "value": key},
                }
            }
        }
    }


def message_action(callback_id: str) -> dict[str, Any]:
    return {
        "type": "message_action",
        **_team_user(),
        "callback_id": callback_id,
        "trigger_id": "1337.45.trigger",
        "message_ts": "1700000001.000100",
        "channel": {"id": CHANNEL, "name": "general"},
        "message": {
            "type": "message",
            "user": "U0BOB",
            "ts": "1700000001.000100",
            "text": "The deploy is broken <@U0BOB> &amp; OPS-1\nsecond line",
            "thread_ts": "1700000000.000100",
        },
        "response_url": RESPONSE_URL,
    }


def global_shortcut() -> dict[str, Any]:
    return {
        "type": "shortcut",
        **_team_user(),
        "callback_id": "create_issue",
        "trigger_id": "1337.46.trigger",
        "action_ts": "1700000002.1",
    }


def block_suggestion(action_id: str, block_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "block_suggestion",
        **_team_user(),
        "container": {"type": "view", "view_id": "V0FUZZ"},
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "view": modal(LINK_CALLBACK_ID, source_metadata(), {"values": {}}),
    }


def card_suggestion(value: str) -> dict[str, Any]:
    payload = block_suggestion(
        card_parts.TRANSITION_ACTION, card_parts.card_block_prefix("OPS-1") + "actions", value
    )
    del payload["view"]
    payload["container"] = {
        "type": "message",
        "message_ts": "1700000001.000100",
        "channel_id": CHANNEL,
    }
    payload["channel"] = {"id": CHANNEL, "name": "general"}
    return payload


INTERACTIONS: list[dict[str, Any]] = [
    card_action(_button(card_parts.SHARE_ACTION, "OPS-1"), ephemeral=True),
    card_action(_button(card_parts.ASSIGN_ME_ACTION, "OPS-1")),
    card_action(_button(card_parts.COMMENT_ACTION, "OPS-2")),
    card_action(_button(card_parts.OPEN_ACTION, "OPS-1")),
    card_action(
        {
            "type": "external_select",
            "action_id": card_parts.TRANSITION_ACTION,
            "selected_option": {"text": {"type": "plain_text", "text": "Done"}, "value": "31"},
        }
    ),
    card_action(_button(MENTION_CREATE_ACTION, "OPS the deploy is broken")),
    {
        **card_action(_button(CONNECT_ACTION, "connect")),
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {**modal("", "", {"values": {}}), "type": "home", "id": "V0HOME"},
    },
    view_action(
        {
            "type": "static_select",
            "action_id": PROJECT_ACTION,
            "selected_option": {"text": {"type": "plain_text", "text": "WEB"}, "value": "WEB"},
        },
        create_metadata(),
    ),
    view_action(
        {
            "type": "static_select",
            "action_id": TYPE_ACTION,
            "selected_option": {"text": {"type": "plain_text", "text": "Bug"}, "value": "10002"},
        },
        create_metadata("message"),
    ),
    view_submission(CREATE_CALLBACK, create_metadata(), create_state()),
    view_submission(CREATE_CALLBACK, create_metadata("global"), create_state()),
    view_submission(LINK_CALLBACK_ID, source_metadata(), picked_issue("OPS-1")),
    view_submission(COMMENT_CALLBACK_ID, source_metadata(), picked_issue("WEB-1")),
    view_submission(
        CARD_COMMENT_CALLBACK,
        json.dumps({"key": "OPS-1", "channel": CHANNEL, "thread": None}),
        {"values": {"comment": {"comment": {"type": "plain_text_input", "value": "Looks good"}}}},
    ),
    global_shortcut(),
    message_action("create_issue_from_message"),
    message_action("link_message_to_issue"),
    message_action("comment_on_issue_from_message"),
    block_suggestion(PICKER_ACTION, ISSUE_BLOCK, "OPS-1"),
    block_suggestion(PICKER_ACTION, ISSUE_BLOCK, "deploy broken"),
    card_suggestion(""),
    card_suggestion("do"),
]

# -- Events API -----------------------------------------------------------------------------------


def event_callback(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM,
        "context_team_id": TEAM,
        "api_app_id": APP,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev0FUZZ0001",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
    }


EVENTS: list[dict[str, Any]] = [
    event_callback(
        {
            "type": "message",
            "channel": CHANNEL,
            "user": "U0BOB",
            "text": "is OPS-1 done? and WEB-1 <@U0ALICE>",
            "ts": "1700000003.000100",
            "event_ts": "1700000003.000100",
            "channel_type": "channel",
            "team": TEAM,
            "blocks": [],
        }
    ),
    event_callback(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": CHANNEL,
            "hidden": True,
            "message": {"type": "message", "text": "OPS-2", "ts": "1700000003.000100"},
            "ts": "1700000004.000100",
            "event_ts": "1700000004.000100",
            "channel_type": "channel",
        }
    ),
    event_callback(
        {
            "type": "link_shared",
            "channel": CHANNEL,
            "is_bot_user_member": True,
            "user": "U0BOB",
            "message_ts": "1700000005.000100",
            "thread_ts": "1700000001.000100",
            "unfurl_id": "C0GENERAL.1700000005.000100.abc",
            "source": "conversations_history",
            "links": [
                {"domain": "fuzz.atlassian.net", "url": "https://fuzz.atlassian.net/browse/OPS-1"},
                {"domain": "fuzz.atlassian.net", "url": "https://fuzz.atlassian.net/browse/NOPE-9"},
            ],
        }
    ),
    event_callback(
        {
            "type": "app_home_opened",
            "user": USER,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": "1700000006.000100",
            "view": {"id": "V0HOME", "type": "home"},
        }
    ),
    event_callback(
        {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{BOT_USER}> create OPS the deploy is broken",
            "ts": "1700000007.000100",
            "channel": CHANNEL,
            "event_ts": "1700000007.000100",
        }
    ),
    event_callback(
        {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{BOT_USER}> OPS-1",
            "ts": "1700000008.000100",
            "thread_ts": "1700000001.000100",
            "channel": CHANNEL,
            "event_ts": "1700000008.000100",
        }
    ),
    event_callback({"type": "reaction_added", "user": USER, "reaction": "eyes"}),
]
