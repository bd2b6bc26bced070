"""How clients report each outbound call, without knowing about Prometheus."""

from __future__ import annotations

from typing import Protocol


class CallObserver(Protocol):
    def record(self, service: str, operation: str, outcome: str, seconds: float) -> None:
        """Record one call: service is "jira" or "slack", outcome "ok" or an error kind."""


class NullObserver:
    def record(self, service: str, operation: str, outcome: str, seconds: float) -> None:
        return None
