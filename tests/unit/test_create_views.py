from __future__ import annotations

from clients.jira_client import IssueType, JiraProject, Priority
from handlers.create_views import (
    Answers,
    CreateContext,
    extra_block_id,
    form_view,
    loading_view,
    read_answers,
)
from services.issues.create import CreateForm, ExtraField

CONTEXT = CreateContext("message", "T1", "U1", "C1", message_ts="1.2", private_source=True)
SEVERITY = ExtraField("customfield_1", "Severity", "option", (("s1", "S1"), ("s2", "S2")))


def form(*extra: ExtraField) -> CreateForm:
    return CreateForm(
        projects=(JiraProject("1", "OPS", "Operations"), JiraProject("2", "WEB", "Website")),
        project=JiraProject("2", "WEB", "Website"),
        issue_types=(IssueType("10", "Task"), IssueType("11", "Bug")),
        issue_type=IssueType("11", "Bug"),
        priorities=(Priority("1", "High"), Priority("2", "Low")),
        extra_fields=extra,
    )


def test_context_round_trips_through_private_metadata() -> None:
    raw = CONTEXT.dump()
    assert len(raw) < 3000
    assert CreateContext.load(raw) == CONTEXT
    assert (
        CreateContext.load('{"source": "global", "team_id": "T", "user_id": "U", "junk": 1}').source
        == "global"
    )


def test_loading_view_has_no_submit() -> None:
    view = loading_view(CONTEXT)
    assert view["type"] == "modal" and "submit" not in view
    assert "Loading" in str(view["blocks"])


def test_form_has_the_labelled_fields_selected_values_and_notice() -> None:
    view = form_view(
        CONTEXT, form(SEVERITY), Answers(summary="s", description="d", priority_id="2")
    )
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["label"]["text"] for b in inputs] == [
        "Project",
        "Issue type",
        "Summary",
        "Description",
        "Priority",
        "Assignee",
        "Severity",
    ]
    required = {b["label"]["text"] for b in inputs if not b["optional"]}
    assert required == {"Project", "Issue type", "Summary", "Severity"}
    assert inputs[0]["element"]["initial_option"]["value"] == "WEB"
    assert inputs[1]["element"]["initial_option"]["value"] == "11"
    assert inputs[4]["element"]["initial_option"]["value"] == "2"
    assert "visible to everyone who can see the Jira issue" in str(view["blocks"])
    assert view["submit"]["text"] == "Create"


def test_errors_sit_right_under_their_field() -> None:
    view = form_view(
        CONTEXT,
        form(SEVERITY),
        Answers(),
        errors={extra_block_id(SEVERITY): "required"},
        problem="Jira said no",
    )
    ids = [b.get("block_id") for b in view["blocks"]]
    index = ids.index(extra_block_id(SEVERITY))
    assert ":warning: required" in str(view["blocks"][index + 1])
    assert ":warning: Jira said no" in str(view["blocks"][0])


def test_answers_are_read_back_from_view_state() -> None:
    state = {
        "values": {
            "project": {"create_project": {"selected_option": {"value": "OPS"}}},
            "issue_type": {"create_issue_type": {"selected_option": {"value": "10"}}},
            "summary": {"summary": {"value": "Hello"}},
            "description": {"description": {"value": None}},
            "priority": {"priority": {"selected_option": None}},
            "assignee": {"assignee": {"selected_user": "U9"}},
            "extra:option:customfield_1": {"value": {"selected_option": {"value": "s2"}}},
            "extra:options:customfield_2": {
                "value": {"selected_options": [{"value": "a"}, {"value": "b"}]}
            },
            "extra:number:customfield_3": {"value": {"value": "4.5"}},
            "extra:date:customfield_4": {"value": {"selected_date": "2026-12-01"}},
        }
    }
    answers = read_answers(state)
    assert (answers.project_key, answers.issue_type_id, answers.summary) == ("OPS", "10", "Hello")
    assert answers.description == "" and answers.priority_id is None and answers.assignee == "U9"
    assert answers.extra == {
        "customfield_1": "s2",
        "customfield_2": ["a", "b"],
        "customfield_3": "4.5",
        "customfield_4": "2026-12-01",
    }
    assert answers.extra_kinds["customfield_3"] == "number"


def test_odd_state_reads_as_empty() -> None:
    assert read_answers({}) == Answers()
    assert read_answers({"values": {"summary": "nope", "extra:x": {}}}).summary == ""
