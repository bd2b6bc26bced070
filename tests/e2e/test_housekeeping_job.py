"""The worker's housekeeping job purges after CONNECT_RETENTION_DAYS, on the runtime's clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.container import build_worker
from models import ConnectAction, NotificationOutbox, utcnow
from models.delivery import FAILED
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import connect_settings, running_connect


def test_the_worker_purges_after_the_configured_retention(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    settings = connect_settings(
        fake_slack, fake_jira, tmp_path / "connect.db", connect_retention_days=3
    )
    with running_connect(settings, fake_slack, fake_jira) as connect:
        runtime = connect.runtime
        now = utcnow()
        with runtime.services.uow() as work:
            work.session.add_all(
                [
                    ConnectAction(
                        team_id="T0TEAM",
                        issue_key="OPS-1",
                        slack_user_id="U0ALICE",
                        actor_name="Alice",
                        created_at=now,
                    ),
                    NotificationOutbox(
                        team_id="T0TEAM",
                        idempotency_key="given-up",
                        channel_id="C0GENERAL",
                        payload={},
                        status=FAILED,
                        created_at=now,
                        available_at=now,
                    ),
                ]
            )
            work.commit()
        (job,) = [job for job in build_worker(runtime).jobs if job.name == "housekeeping"]

        runtime.clock = lambda: now + timedelta(days=2)
        job.run()
        with runtime.services.uow() as work:
            assert work.session.scalars(select(ConnectAction)).all() != []

        runtime.clock = lambda: now + timedelta(days=3, minutes=1)
        job.run()
        with runtime.services.uow() as work:
            assert work.session.scalars(select(ConnectAction)).all() == []
            assert work.session.scalars(select(NotificationOutbox)).all() == []
