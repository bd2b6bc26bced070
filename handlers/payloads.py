"""The parts of Slack payloads Connect reads, validated (a bad body is a 400, not a crash)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SlackPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SlashCommand(SlackPayload):
    command: str
    text: str = ""
    team_id: str
    channel_id: str
    user_id: str
    response_url: str | None = None
    trigger_id: str | None = None
