"""Jira webhook intake: store each delivery once, before it is acknowledged (SPEC §6)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from models import ProcessedDelivery, utcnow
from models.delivery import JIRA_SOURCE
from services.jira_changes.events import delivery_key, parse_webhook
from services.unit_of_work import UnitOfWorkFactory

# Jira deliveries belong to the Jira site, not to one Slack workspace; processing fans them
# out to each workspace's links.
SITE_TEAM = ""


@dataclass(frozen=True, slots=True)
class IntakeResult:
    status: str  # accepted | duplicate | ignored
    key: str | None = None


class WebhookIntake:
    def __init__(self, uow: UnitOfWorkFactory, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.uow = uow
        # The runtime's clock, as the processor's: a delivery is due from when it was stored.
        self.clock = clock

    def accept(
        self, body: Mapping[str, Any], *, raw_body: bytes, identifier: str | None
    ) -> IntakeResult:
        event = parse_webhook(body)
        if event.kind == "unknown" or event.issue is None:
            return IntakeResult("ignored")
        key = delivery_key(event, identifier=identifier, raw_body=raw_body)
        now = self.clock()
        try:
            with self.uow() as work:
                work.session.add(
                    ProcessedDelivery(
                        team_id=SITE_TEAM,
                        source=JIRA_SOURCE,
                        dedupe_key=key,
                        payload=dict(body),
                        received_at=now,
                        available_at=now,
                    )
                )
                work.commit()
        except IntegrityError:
            return IntakeResult("duplicate", key)
        return IntakeResult("accepted", key)
