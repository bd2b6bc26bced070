"""Jira webhook bodies as they arrive, as tolerant pydantic models.

Shapes follow the payloads Jira Cloud and Data Center actually send (`webhookEvent`,
`issue_event_type_name`, `user`, `issue`, `changelog`, `comment`). Every field is optional and
a value of the wrong type becomes None (or is dropped from a list) instead of failing
validation: a webhook with an odd field must still be read for the parts that make sense.
`services.jira_changes.events` turns these into Connect's own event types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _text(value: Any) -> str | None:
    """Strings as they are; numbers (ids Jira sometimes sends unquoted) as text; else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _object(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): v for k, v in value.items()}


def _objects(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        return []
    return [obj for obj in (_object(item) for item in value) if obj is not None]


Text = Annotated[str | None, BeforeValidator(_text)]
Flag = Annotated[bool | None, BeforeValidator(_flag)]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class WireUser(WireModel):
    """Cloud users carry `accountId`; Data Center users `name` (login) and `key`."""

    account_id: Text = Field(None, alias="accountId")
    name: Text = None
    key: Text = None
    display_name: Text = Field(None, alias="displayName")
    email: Text = Field(None, alias="emailAddress")
    active: Flag = None


class WireNamed(WireModel):
    """Status, priority, resolution, issue type, project, status category."""

    id: Text = None
    key: Text = None
    name: Text = None


class WireStatus(WireNamed):
    category: Annotated[WireNamed | None, BeforeValidator(_object)] = Field(
        None, alias="statusCategory"
    )


NamedOrNone = Annotated[WireNamed | None, BeforeValidator(_object)]
UserOrNone = Annotated[WireUser | None, BeforeValidator(_object)]


class WireFields(WireModel):
    summary: Text = None
    status: Annotated[WireStatus | None, BeforeValidator(_object)] = None
    priority: NamedOrNone = None
    resolution: NamedOrNone = None
    issue_type: NamedOrNone = Field(None, alias="issuetype")
    project: NamedOrNone = None
    assignee: UserOrNone = None
    reporter: UserOrNone = None
    description: Any = None  # wiki text (REST v2 shape) or an ADF document (v3 shape)
    created: Text = None
    updated: Text = None
    security: NamedOrNone = None  # the issue security level


class WireIssue(WireModel):
    id: Text = None
    key: Text = None
    fields: Annotated[WireFields | None, BeforeValidator(_object)] = None


class WireChangeItem(WireModel):
    field: Text = None
    field_type: Text = Field(None, alias="fieldtype")
    field_id: Text = Field(None, alias="fieldId")
    from_id: Text = Field(None, alias="from")
    from_string: Text = Field(None, alias="fromString")
    to_id: Text = Field(None, alias="to")
    to_string: Text = Field(None, alias="toString")


class WireChangelog(WireModel):
    id: Text = None
    items: Annotated[list[WireChangeItem], BeforeValidator(_objects)] = []


class WireVisibility(WireModel):
    """A restricted comment's audience: `{"type": "role"|"group", "value": name}`."""

    type: Text = None
    value: Text = None
    identifier: Text = None


class WireComment(WireModel):
    id: Text = None
    self_url: Text = Field(None, alias="self")
    body: Any = None  # wiki text (REST v2 shape) or an ADF document (v3 shape)
    author: UserOrNone = None
    update_author: UserOrNone = Field(None, alias="updateAuthor")
    created: Text = None
    updated: Text = None
    visibility: Annotated[WireVisibility | None, BeforeValidator(_object)] = None


class WireWebhook(WireModel):
    webhook_event: Text = Field(None, alias="webhookEvent")
    issue_event_type: Text = Field(None, alias="issue_event_type_name")
    timestamp: Any = None  # epoch milliseconds
    user: UserOrNone = None
    issue: Annotated[WireIssue | None, BeforeValidator(_object)] = None
    changelog: Annotated[WireChangelog | None, BeforeValidator(_object)] = None
    comment: Annotated[WireComment | None, BeforeValidator(_object)] = None
