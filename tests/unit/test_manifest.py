"""manifest.yml declares what Connect uses and validates against Slack's published schema."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.manifest import (
    MANIFEST_PATH,
    dump_manifest,
    jira_host,
    load_manifest,
    render_manifest,
)

SCHEMA_ENV = "CONNECT_MANIFEST_SCHEMA"
SCHEMA_NAME = "manifest.schema.1.0.0.json"
REPO = Path(__file__).resolve().parents[2]
SCHEMA_CANDIDATES = (
    REPO.parent / "shared" / "slack-manifest-schema" / SCHEMA_NAME,
    Path("/work/shared/slack-manifest-schema") / SCHEMA_NAME,
)
SPEC_SCOPES = {
    "commands",
    "chat:write",
    "links:read",
    "links:write",
    "users:read",
    "users:read.email",
    "channels:history",
    "groups:history",
    "app_mentions:read",
    "im:write",
    "files:read",  # SPEC §13: files copied to Jira
}
BOT_EVENTS = {
    "link_shared",
    "message.channels",
    "message.groups",
    "app_home_opened",
    "app_mention",
    "app_uninstalled",
    "tokens_revoked",
}
SHORTCUTS = {
    "create_issue": "global",
    "create_issue_from_message": "message",
    "link_message_to_issue": "message",
    "comment_on_issue_from_message": "message",
}
PUBLIC_URL = "https://bot.acme.io/"


def locate_schema(
    environ: dict[str, str], candidates: tuple[Path, ...] = SCHEMA_CANDIDATES
) -> Path | None:
    """The schema file: $CONNECT_MANIFEST_SCHEMA (must exist), else the shared copy, else None."""
    configured = environ.get(SCHEMA_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FileNotFoundError(f"{SCHEMA_ENV}={configured} does not name a file")
        return path
    return next((path for path in candidates if path.is_file()), None)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    try:
        path = locate_schema(dict(os.environ))
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    if path is None:
        pytest.skip(
            f"Slack's manifest schema ({SCHEMA_NAME} from slackapi/manifest-schema) not found:"
            f" set {SCHEMA_ENV} to its path"
        )
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def manifest() -> dict[str, Any]:
    return load_manifest()


def schema_errors(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_the_committed_manifest_validates(manifest: dict[str, Any], schema: dict[str, Any]) -> None:
    assert schema_errors(manifest, schema) == []


def test_the_rendered_manifest_validates_with_every_url_replaced(
    manifest: dict[str, Any], schema: dict[str, Any]
) -> None:
    rendered = render_manifest(
        manifest, public_url=PUBLIC_URL, jira_url="https://acme.atlassian.net"
    )

    assert schema_errors(rendered, schema) == []
    events = "https://bot.acme.io/slack/events"
    assert [c["url"] for c in rendered["features"]["slash_commands"]] == [events]
    assert rendered["settings"]["event_subscriptions"]["request_url"] == events
    assert rendered["settings"]["interactivity"]["request_url"] == events
    assert rendered["settings"]["interactivity"]["message_menu_options_url"] == events
    assert rendered["oauth_config"]["redirect_urls"] == ["https://bot.acme.io/slack/oauth_redirect"]
    assert rendered["features"]["unfurl_domains"] == ["acme.atlassian.net"]
    leftovers = [s for s in strings(rendered) if "example.com" in s or "example.atlassian" in s]
    assert leftovers == []


def test_rendering_copies_and_keeps_placeholders_when_not_asked(
    manifest: dict[str, Any],
) -> None:
    before = json.dumps(manifest)

    same = render_manifest(manifest, public_url=None, jira_url=None)
    render_manifest(manifest, public_url=PUBLIC_URL, jira_url="https://acme.atlassian.net")

    assert same == manifest
    assert json.dumps(manifest) == before
    assert manifest["features"]["unfurl_domains"] == ["example.atlassian.net"]
    assert "https://connect.example.com/slack/events" in set(strings(manifest))


@pytest.mark.parametrize(
    ("public_url", "events"),
    [
        ("https://bot.acme.io", "https://bot.acme.io/slack/events"),
        ("https://bot.acme.io///", "https://bot.acme.io/slack/events"),
        ("https://acme.io/connect/", "https://acme.io/connect/slack/events"),
        ("http://localhost:5001", "http://localhost:5001/slack/events"),
    ],
)
def test_public_url_forms(manifest: dict[str, Any], public_url: str, events: str) -> None:
    rendered = render_manifest(manifest, public_url=public_url, jira_url=None)

    assert rendered["settings"]["event_subscriptions"]["request_url"] == events


@pytest.mark.parametrize(
    "public_url", ["", "bot.acme.io", "ftp://bot.acme.io", "https://", "https://x.io/?a=1"]
)
def test_a_bad_public_url_is_refused_clearly(manifest: dict[str, Any], public_url: str) -> None:
    with pytest.raises(ValueError, match=r"http\(s\) URL"):
        render_manifest(manifest, public_url=public_url, jira_url=None)


def test_jira_host() -> None:
    assert jira_host("https://Acme.Atlassian.net:8443/jira/") == "acme.atlassian.net"
    assert jira_host("jira.example.org") == "jira.example.org"
    with pytest.raises(ValueError, match="JIRA_URL"):
        jira_host("https://")


def test_commands_and_shortcuts(manifest: dict[str, Any]) -> None:
    [jira] = manifest["features"]["slash_commands"]
    assert jira["command"] == "/jira"
    assert jira["should_escape"] is True
    assert jira["usage_hint"]
    assert jira["description"]
    shortcuts = manifest["features"]["shortcuts"]
    assert {s["callback_id"]: s["type"] for s in shortcuts} == SHORTCUTS
    assert all(len(s["name"]) <= 24 and s["description"] for s in shortcuts)


def test_events_scopes_and_settings(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == BOT_EVENTS
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= SPEC_SCOPES
    assert {"channels:read", "groups:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert settings["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["display_information"]["name"] == "Connect"
    flags = ("org_deploy_enabled", "socket_mode_enabled", "token_rotation_enabled")
    assert [settings[flag] for flag in flags] == [False, False, False]


def test_dumps_parse_back(manifest: dict[str, Any]) -> None:
    as_json = dump_manifest(manifest, "json")
    as_yaml = dump_manifest(manifest, "yaml")

    assert json.loads(as_json) == manifest
    assert yaml.safe_load(as_yaml) == manifest
    assert as_yaml.startswith("_metadata:")  # manifest order, not sorted
    with pytest.raises(ValueError, match="yaml, json"):
        dump_manifest(manifest, "toml")


def test_load_manifest_reads_the_repository_root_file(tmp_path: Path) -> None:
    assert MANIFEST_PATH == REPO / "manifest.yml"
    other = tmp_path / "m.yml"
    other.write_text("display_information:\n  name: Other\n", encoding="utf-8")
    assert load_manifest(other) == {"display_information": {"name": "Other"}}
    other.write_text("- not a mapping\n", encoding="utf-8")
    with pytest.raises(ValueError, match="manifest"):
        load_manifest(other)


def test_schema_location(tmp_path: Path) -> None:
    schema_file = tmp_path / SCHEMA_NAME
    schema_file.write_text("{}", encoding="utf-8")

    assert locate_schema({SCHEMA_ENV: str(schema_file)}) == schema_file
    with pytest.raises(FileNotFoundError, match=SCHEMA_ENV):
        locate_schema({SCHEMA_ENV: str(tmp_path / "missing.json")})
    assert locate_schema({}, (tmp_path / "nope.json", schema_file)) == schema_file
    assert locate_schema({}, (tmp_path / "nope.json",)) is None


def test_the_schema_check_has_teeth(manifest: dict[str, Any], schema: dict[str, Any]) -> None:
    manifest["features"]["shortcuts"][0]["name"] = "Create a brand new Jira issue"
    manifest["features"]["unfurl_domains"] = ["https://acme.atlassian.net"]

    assert len(schema_errors(manifest, schema)) == 2
