"""The Slack app manifest: read manifest.yml, point it at a deployment, print it as YAML or JSON."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "manifest.yml"
EVENTS_PATH = "/slack/events"
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"
FORMATS = ("yaml", "json")
# Slack's manifest schema pattern for unfurl_domains entries.
UNFURL_DOMAIN = re.compile(r"^(?![.\-])[-a-z0-9.]+[a-z0-9]$")


def load_manifest(path: Path | None = None) -> dict[str, Any]:
    """The committed manifest.yml (placeholders included) as a dict."""
    source = path or MANIFEST_PATH
    with source.open(encoding="utf-8") as stream:
        manifest = yaml.safe_load(stream)
    if not isinstance(manifest, dict):
        raise ValueError(f"{source} does not hold a Slack app manifest (a YAML mapping)")
    return manifest


def render_manifest(
    manifest: dict[str, Any], *, public_url: str | None, jira_url: str | None
) -> dict[str, Any]:
    """A copy of `manifest` with every request URL under `public_url` and unfurls for Jira."""
    rendered = copy.deepcopy(manifest)
    if public_url is not None:
        base = _public_base(public_url)
        events, redirect = base + EVENTS_PATH, base + OAUTH_REDIRECT_PATH
        features = rendered.setdefault("features", {})
        for command in features.get("slash_commands") or []:
            command["url"] = events
        settings = rendered.setdefault("settings", {})
        settings.setdefault("event_subscriptions", {})["request_url"] = events
        interactivity = settings.setdefault("interactivity", {"is_enabled": True})
        interactivity["request_url"] = events
        interactivity["message_menu_options_url"] = events
        rendered.setdefault("oauth_config", {})["redirect_urls"] = [redirect]
    if jira_url:
        rendered.setdefault("features", {})["unfurl_domains"] = [jira_host(jira_url)]
    return rendered


def dump_manifest(manifest: dict[str, Any], fmt: str) -> str:
    """YAML (keys in manifest order) or JSON (for the Slack CLI and the manifest API)."""
    if fmt == "yaml":
        return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=100)
    if fmt == "json":
        return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown manifest format {fmt!r}: use one of {', '.join(FORMATS)}")


def jira_host(jira_url: str) -> str:
    """The host Slack unfurls for: `https://Acme.atlassian.net:443/` -> `acme.atlassian.net`."""
    parts = urlsplit(jira_url if "://" in jira_url else f"https://{jira_url}")
    host = (parts.hostname or "").lower()
    if not UNFURL_DOMAIN.match(host):
        raise ValueError(
            "JIRA_URL must be a URL with a host name, e.g. https://acme.atlassian.net;"
            f" got {jira_url!r}"
        )
    return host


def _public_base(public_url: str) -> str:
    parts = urlsplit(public_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            "the public URL must be an http(s) URL such as https://connect.example.com;"
            f" got {public_url!r}"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
