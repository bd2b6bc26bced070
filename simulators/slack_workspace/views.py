"""views.open / push / update / publish for the fake Slack Web API: modals and App Home."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from simulators.slack_workspace.memory import InMemorySlack

APP_ID = "A0CONNECT"


class ApiError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def required(params: dict[str, Any], name: str, error: str = "invalid_arguments") -> str:
    value = params.get(name)
    if not value:
        raise ApiError(error)
    return str(value)


class FakeViews:
    """Stored views by id (`by_id`) and each user's published App Home (`home`)."""

    def __init__(self, slack: InMemorySlack) -> None:
        self.slack = slack
        self.by_id: dict[str, dict[str, Any]] = {}
        self.home: dict[str, dict[str, Any]] = {}
        self.used_triggers: set[str] = set()
        self._ids = itertools.count(1)

    def open(self, params: dict[str, Any], *, pushed: bool) -> dict[str, Any]:
        trigger_id = required(params, "trigger_id")
        if trigger_id in self.used_triggers:
            raise ApiError("exchanged_trigger_id")
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") != "modal":
            raise ApiError("invalid_arguments")
        self.used_triggers.add(trigger_id)
        return {"view": self._store_view(view, previous=None, pushed=pushed)}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id") or self._by_external_id(params.get("external_id"))
        current = self.by_id.get(str(view_id or ""))
        if current is None:
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = params.get("view")
        if not isinstance(view, dict):
            raise ApiError("invalid_arguments")
        return {"view": self._store_view(view, previous=current, pushed=False)}

    def publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = required(params, "user_id", "user_not_found")
        self.slack.user_info(user_id)
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise ApiError("invalid_arguments")
        stored = self._store_view(view, previous=self.home.get(user_id), pushed=False)
        self.home[user_id] = stored
        return {"view": stored}

    def _by_external_id(self, external_id: Any) -> str | None:
        if not external_id:
            return None
        return next((v["id"] for v in self.by_id.values() if v["external_id"] == external_id), None)

    def _store_view(
        self, view: dict[str, Any], *, previous: dict[str, Any] | None, pushed: bool
    ) -> dict[str, Any]:
        view_id = previous["id"] if previous else f"V{next(self._ids):08d}"
        digest = hashlib.sha1(json.dumps(view, sort_keys=True).encode(), usedforsecurity=False)
        stored = {
            "id": view_id,
            "team_id": self.slack.team_id,
            "type": view.get("type"),
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id") or (previous or {}).get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{next(self._ids)}.{digest.hexdigest()[:8]}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": self.slack.bot_id,
            "pushed": pushed,
        }
        self.by_id[view_id] = stored
        return stored
