"""Who a Jira text @mentions, in every form Jira delivers."""

from __future__ import annotations

from services.markup.mentions import MAX_MENTIONS, MAX_SCANNED, mentioned_accounts


def test_cloud_wiki_mentions_by_account_id() -> None:
    text = "[~accountid:5b10ac8d82e05b22cc7d4ef5] and [~accountid:acc-bob], thanks"
    assert mentioned_accounts(text) == ("5b10ac8d82e05b22cc7d4ef5", "acc-bob")


def test_data_center_mentions_by_user_name() -> None:
    assert mentioned_accounts("ping [~jsmith] and [~j.doe@corp]") == ("jsmith", "j.doe@corp")


def test_adf_mention_nodes_and_wiki_text_inside_adf() -> None:
    doc = {
        "type": "doc",
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "mention", "attrs": {"id": "acc-carol", "text": "@Carol"}},
                    {"type": "text", "text": " and [~accountid:acc-bob]"},
                ],
            },
            {"type": "bulletList", "content": [{"type": "mention", "attrs": {"id": "acc-carol"}}]},
        ],
    }
    assert mentioned_accounts(doc) == ("acc-carol", "acc-bob")


def test_no_mentions_in_lookalikes_or_odd_input() -> None:
    assert mentioned_accounts("[~] [~ spaced] ~acc [link|http://x] [~a]b]") == ("a",)
    assert mentioned_accounts(None) == ()
    assert mentioned_accounts(42) == ()
    assert mentioned_accounts({"type": "mention", "attrs": "nope"}) == ()


def test_repeats_count_once_and_the_list_is_capped() -> None:
    text = " ".join(f"[~user{n % 80}]" for n in range(400))
    found = mentioned_accounts(text)
    assert len(found) == MAX_MENTIONS and found[0] == "user0" and len(set(found)) == len(found)


def test_only_the_first_40000_characters_are_read() -> None:
    text = "x" * (MAX_SCANNED - 10) + "[~early] " + "[~late]"
    assert mentioned_accounts(text) == ("early",)
