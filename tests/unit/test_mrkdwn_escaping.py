"""Text Connect did not write can't ping, mention or disguise a link once shown (SPEC §11):
the one escape, text typed into Slack, and Jira markup converted to mrkdwn."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from services.markup import escape_mrkdwn, escape_typed, jira_to_mrkdwn

# Pieces an attacker puts in a Jira field or a comment, and Jira markup around them.
HOSTILE_PIECES = st.lists(
    st.sampled_from(
        [
            "<!channel>",
            "<!here|here>",
            "<!subteam^S1>",
            "<@U0BOB>",
            "<#C0OPS>",
            "<https://evil.example/login|re-authenticate>",
            "&lt;!channel&gt;",
            "&",
            "<",
            ">",
            "|",
            "[docs|https://wiki.example.com]",
            "[<!channel>|https://evil.example]",
            "[https://evil.example|<@U0BOB>]",
            "https://evil.example/a|b",
            "{{<!here>}}",
            "{noformat}<!channel>{noformat}",
            "{code}<@U0BOB>{code}",
            "*bold*",
            "_it_",
            "[~accountid:acc-1]",
            "[mailto:a@example.com|<!channel>]",
            "!https://evil.example/x.png|alt=<!here>!",
            " ",
            "\n",
            "word",
        ]
    ),
    max_size=25,
).map("".join)


def tokens(mrkdwn: str) -> list[str]:
    return re.findall(r"<([^<>]*)>", mrkdwn)


def test_escape_mrkdwn_leaves_no_control_character() -> None:
    assert escape_mrkdwn("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_typed_text_shows_as_typed_with_nothing_active() -> None:
    # Slack sends typed `<` as `&lt;`, and @channel (should_escape) as `<!channel>`.
    assert escape_typed("&lt;b&gt; <!channel> <@U1|al> a &amp; b") == (
        "&lt;b&gt; &lt;!channel&gt; &lt;@U1|al&gt; a &amp; b"
    )
    assert tokens(escape_typed("<!channel> <https://evil.example|x>")) == []


@settings(max_examples=300, deadline=None)
@given(HOSTILE_PIECES)
def test_jira_markup_never_becomes_a_ping_mention_or_foreign_label(wiki: str) -> None:
    shown = jira_to_mrkdwn(wiki)
    links = tokens(shown)
    for token in links:
        # Only links Connect writes: a URL (shown as itself) or a Jira link `[label|url]`.
        assert re.match(r"(https?://|ftp://|mailto:)", token), (wiki, shown)
        label = token.partition("|")[2]
        assert "<" not in label and "!" not in label[:1]
    labelled = sum(1 for token in links if "|" in token)
    # A label only where Jira's markup gave one: `[label|url]`, `[mailto:…|label]`.
    assert labelled <= wiki.count("|http") + wiki.count("[mailto:")
