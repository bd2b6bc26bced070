"""The sample Jira site of the offline demo and the unit tests."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from clients.jira_client import FieldMeta
from simulators.jira_site.memory import InMemoryJira

J = TypeVar("J", bound=InMemoryJira)

SEVERITY = FieldMeta(
    "customfield_10100",
    "Severity",
    True,
    "option",
    (("20001", "S1 - Outage"), ("20002", "S2 - Degraded"), ("20003", "S3 - Cosmetic")),
)


def with_sample_data(jira: J) -> J:
    """`jira`, seeded with the sample site and with no changes to tell (seeding is not news):
    projects OPS and WEB, users alice/bob/carol@example.com, issues OPS-1..3 and WEB-1."""
    load_sample_data(jira)
    jira.forget_changes()
    return jira


def load_sample_data(jira: InMemoryJira) -> None:
    """Users alice, bob and carol @example.com; projects OPS and WEB; OPS-1..OPS-3 and WEB-1.

    WEB bugs have a required custom field (Severity), as many real create screens do.
    """
    for name, display in (("alice", "Alice Adams"), ("bob", "Bob Baker"), ("carol", "Carol Chen")):
        jira.add_user(f"{name}@example.com", display, f"acc-{name}")
    jira.add_project("OPS", "Operations")
    jira.add_project("WEB", "Website")
    jira.add_field("WEB", "Bug", SEVERITY)
    now = jira.now()
    with jira.act_as("bob@example.com"):
        jira.add_issue(
            "OPS",
            "Nightly database backup fails on replica",
            issue_type="Bug",
            status="In Progress",
            priority="High",
            assignee="acc-alice",
            description="The backup job on *db-replica-2* exits with code 1.\n\n"
            "See [the runbook|https://wiki.example.com/backups].",
            labels=("backups",),
            created=now - timedelta(days=3),
        )
    with jira.act_as("carol@example.com"):
        jira.add_issue(
            "OPS",
            "Rotate TLS certificates for api.example.com",
            created=now - timedelta(days=2),
        )
    with jira.act_as("alice@example.com"):
        jira.add_issue(
            "OPS",
            "Upgrade Kubernetes cluster to 1.31",
            issue_type="Story",
            status="Done",
            priority="Low",
            assignee="acc-bob",
            created=now - timedelta(days=10),
        )
        jira.add_issue(
            "WEB",
            "Login button misaligned on mobile Safari",
            issue_type="Bug",
            assignee="acc-carol",
            description="On iPhone the *Log in* button overlaps the footer.",
            created=now - timedelta(days=1),
        )
