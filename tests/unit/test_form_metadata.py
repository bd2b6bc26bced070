"""The create form's Jira metadata, kept FORM_METADATA_TTL: a form opened again costs no
Jira call, and a create Jira refuses over its fields makes the next form ask Jira again."""

from __future__ import annotations

import pytest

from clients.jira_client import FieldMeta, JiraFieldErrors, JiraUnavailable
from services.errors import JiraDown
from services.issues.create import CreateIssueService, FormMetadata, IssueDraft
from services.policy import ConnectPolicy
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data

METADATA_CALLS = ("projects", "issue_types", "create_fields", "priorities")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def metadata_calls(jira: InMemoryJira) -> list[str]:
    return [operation for operation, _, _ in jira.calls if operation in METADATA_CALLS]


def service(jira: InMemoryJira, clock: Clock) -> CreateIssueService:
    metadata = FormMetadata(jira, ttl=300, clock=clock)
    return CreateIssueService(lambda: None, jira, ConnectPolicy(), None, metadata)  # type: ignore[arg-type]


def test_a_form_opened_again_within_the_ttl_asks_jira_nothing() -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    create = service(jira, clock)

    first = create.form()
    assert metadata_calls(jira) == list(METADATA_CALLS)
    again = create.form()
    other_project = create.form("WEB")

    assert again == first
    assert other_project.project.key == "WEB"
    # WEB's issue types and create fields were new; projects and priorities were not.
    assert metadata_calls(jira)[4:] == ["issue_types", "create_fields"]


def test_after_the_ttl_jira_is_asked_again_and_changes_show() -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    create = service(jira, clock)
    create.form("OPS")
    jira.add_project("NEW", "New things")
    assert "NEW" not in [p.key for p in create.form("OPS").projects]

    clock.now += 300

    assert "NEW" in [p.key for p in create.form("OPS").projects]
    assert metadata_calls(jira).count("projects") == 2


def test_a_failure_is_not_kept() -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    create = service(jira, clock)
    jira.fail_next(JiraUnavailable("down"), operation="projects")

    with pytest.raises(JiraDown):
        create.form()

    assert create.form().project.key == "OPS"  # asked again, not served the failure


def test_a_create_refused_over_its_fields_makes_the_next_form_ask_jira() -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    create = service(jira, clock)
    form = create.form("OPS")
    assert form.extra_fields == ()
    # A Jira admin makes a field required; the kept form does not know yet.
    jira.add_field("OPS", form.issue_type.name, FieldMeta("customfield_1", "Team", True, "string"))
    assert create.form("OPS").extra_fields == ()
    draft = IssueDraft(
        team_id="T1",
        project_key="OPS",
        issue_type_id=form.issue_type.id,
        summary="Broken login",
    )

    with pytest.raises(JiraFieldErrors):
        create.create(draft, credit="— Alice via Slack")

    assert [field.field_id for field in create.form("OPS").extra_fields] == ["customfield_1"]


def test_the_kept_form_is_the_form_and_costs_no_jira_call() -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    create = service(jira, clock)
    assert create.cached_form() is None  # nothing kept yet, and Jira is not asked
    assert metadata_calls(jira) == []

    asked = create.form()
    calls = len(jira.calls)

    assert create.cached_form() == asked
    assert len(jira.calls) == calls


@pytest.mark.parametrize("lost", ["ttl", "forget", "other project only"])
def test_no_kept_form_once_part_of_it_is_gone(lost: str) -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    create = service(jira, clock)
    if lost == "other project only":
        create.form("WEB")  # the default form is OPS's: its types were never asked for
    else:
        create.form()
        if lost == "ttl":
            clock.now += 300
        else:
            create.metadata.forget()
    assert create.cached_form() is None


def test_no_kept_form_when_connect_may_create_nowhere() -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    metadata = FormMetadata(jira, ttl=300, clock=clock)
    create = CreateIssueService(lambda: None, jira, ConnectPolicy(), None, metadata)  # type: ignore[arg-type]
    create.form()
    create.policy = ConnectPolicy(allowed_projects=frozenset({"NOPE"}))
    assert create.cached_form() is None  # form() says why; a kept form would not
