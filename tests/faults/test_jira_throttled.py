"""A storm of 429s and 503s (with Retry-After) and of 500s from Jira: the client retries what
may be retried, within its budget and attempt cap (counted at the fake Jira), then the user
gets a clear message; once the storm is over the same command works at the first try."""

from __future__ import annotations

import json

from clients.jira_rest import _MAX_ATTEMPTS
from tests.e2e.conftest import RunningConnect
from tests.faults.helpers import JIRA_RETRY_BUDGET, last_response

ISSUE_PATH = "/rest/api/2/issue/OPS-1"
JIRA_DOWN = "Jira is not reachable right now"


def issue_reads(connect: RunningConnect) -> list[int]:
    """The statuses the fake Jira answered to reads of OPS-1, oldest first."""
    return [r.status for r in connect.jira.requests if r.path == ISSUE_PATH and r.method == "GET"]


def show_answer(connect: RunningConnect) -> str:
    response, response_url = connect.slash("show OPS-1")
    assert response.status_code == 200
    answer = last_response(connect, response_url, timeout=30)
    assert "Traceback" not in json.dumps(answer)
    return str(answer["text"])


def test_a_storm_of_429_and_503_is_retried_up_to_the_cap_then_told(
    connect: RunningConnect,
) -> None:
    half = _MAX_ATTEMPTS // 2
    connect.jira.fail_next(429, times=half, retry_after=0, path=ISSUE_PATH)
    connect.jira.fail_next(503, times=_MAX_ATTEMPTS, retry_after=0, path=ISSUE_PATH)

    assert JIRA_DOWN in show_answer(connect)
    assert issue_reads(connect) == [429] * half + [503] * (_MAX_ATTEMPTS - half)

    connect.jira.reset()  # the storm is over
    assert show_answer(connect).startswith("OPS-1:")
    assert issue_reads(connect) == [200]


def test_retry_after_is_honoured_only_within_the_budget(connect: RunningConnect) -> None:
    # Retry-After 1 s against a 3 s budget: two waits fit, a third would end past it.
    connect.jira.fail_next(429, times=50, retry_after=1, path=ISSUE_PATH)
    assert JIRA_RETRY_BUDGET == 3.0
    assert JIRA_DOWN in show_answer(connect)
    assert issue_reads(connect) == [429, 429, 429]


def test_a_retry_after_beyond_the_budget_fails_at_once(connect: RunningConnect) -> None:
    connect.jira.fail_next(503, times=50, retry_after=3600, path=ISSUE_PATH)
    assert JIRA_DOWN in show_answer(connect)
    assert issue_reads(connect) == [503]  # no hour-long wait, no second try


def test_500s_are_not_retried_and_told(connect: RunningConnect) -> None:
    connect.jira.fail_next(500, times=3, path=ISSUE_PATH)
    for _ in range(3):
        assert JIRA_DOWN in show_answer(connect)
    assert issue_reads(connect) == [500, 500, 500]  # one request per command
    assert show_answer(connect).startswith("OPS-1:")
    assert issue_reads(connect)[-1] == 200
