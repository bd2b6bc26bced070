"""UserMapping on a real database (SQLite and PostgreSQL) with the in-memory Slack and Jira."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clients.jira_client import JiraUnavailable, JiraUser
from clients.slack_client import SlackUnavailable, SlackUser
from models import UserLink
from services.people.accounts import ConnectStatus, Mapping, UserMapping
from services.unit_of_work import UnitOfWorkFactory
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.slack_workspace.memory import InMemorySlack

T = "T1"
ALICE, BOB = "U0ALICE", "U0BOB"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class UserSearchJira(InMemoryJira):
    """InMemoryJira whose user search also answers what real Jira's may: fuzzy hits, inactive
    accounts and accounts whose e-mail is hidden (`also_found`, by lower-cased query)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.also_found: dict[str, list[JiraUser]] = {}

    def find_users_by_email(self, email: str) -> list[JiraUser]:
        return [*super().find_users_by_email(email), *self.also_found.get(email.casefold(), [])]


class HookedSlack(InMemorySlack):
    """InMemorySlack that runs `on_next_user_info` once, inside the next users.info call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_next_user_info: Callable[[], object] | None = None

    def user_info(self, user_id: str) -> SlackUser:
        user = super().user_info(user_id)
        hook, self.on_next_user_info = self.on_next_user_info, None
        if hook is not None:
            hook()
        return user


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack() -> HookedSlack:
    slack = HookedSlack(team_id=T)
    slack.add_user(ALICE, "alice", real_name="Alice Adams", email="Alice@Example.COM")
    slack.add_user(BOB, "bob", real_name="Bob Baker", email="bob@example.com")
    return slack


@pytest.fixture
def jira() -> UserSearchJira:
    jira = with_sample_data(UserSearchJira())  # alice/bob/carol@example.com
    assert isinstance(jira, UserSearchJira)
    return jira


@pytest.fixture
def mapping(
    uow: UnitOfWorkFactory, slack: HookedSlack, jira: UserSearchJira, clock: Clock
) -> UserMapping:
    return UserMapping(uow, slack, jira, clock=clock)


def lookups(slack: InMemorySlack, jira: InMemoryJira) -> tuple[int, int]:
    """How many users.info and Jira user searches were made so far."""
    searches = [call for call in jira.calls if call[0] == "find_users_by_email"]
    return len(slack.calls_to("user_info")), len(searches)


def account(user: JiraUser | Mapping | None) -> str | None:
    if isinstance(user, Mapping):
        return user.jira_account_id
    return user.account_id if user is not None else None


def verified_at(link: Mapping | None) -> datetime | None:
    return link.verified_at if link is not None else None


def stored_links(uow: UnitOfWorkFactory) -> list[tuple[str, str, str]]:
    with uow() as work:
        rows = work.session.scalars(select(UserLink).order_by(UserLink.id))
        return [(row.team_id, row.slack_user_id, row.jira_account_id) for row in rows]


# -- mapping by e-mail ----------------------------------------------------------------------


def test_maps_by_email_case_insensitively(
    mapping: UserMapping, uow: UnitOfWorkFactory, clock: Clock
) -> None:
    user = mapping.jira_user_for(T, ALICE)

    assert user == JiraUser("acc-alice", "Alice Adams", "Alice@Example.COM")
    assert stored_links(uow) == [(T, ALICE, "acc-alice")]
    assert mapping.whoami(T, ALICE) == Mapping(
        ALICE, "acc-alice", "Alice Adams", "Alice@Example.COM", clock.now
    )


def test_a_stored_link_costs_no_slack_or_jira_call(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira
) -> None:
    first = mapping.jira_user_for(T, ALICE)
    before = lookups(slack, jira)

    assert mapping.jira_user_for(T, ALICE) == first
    assert lookups(slack, jira) == before == (1, 1)


def test_the_link_is_verified_again_after_the_refresh_window(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira, clock: Clock
) -> None:
    mapping.jira_user_for(T, ALICE)
    slack.add_user(ALICE, "alice", real_name="Alice Adams", email="carol@example.com")

    clock.advance(hours=23)
    assert account(mapping.jira_user_for(T, ALICE)) == "acc-alice"
    assert lookups(slack, jira) == (1, 1)

    clock.advance(hours=2)
    assert account(mapping.jira_user_for(T, ALICE)) == "acc-carol"
    assert lookups(slack, jira) == (2, 2)
    link = mapping.whoami(T, ALICE)
    assert link is not None
    assert (link.jira_account_id, link.verified_at) == ("acc-carol", clock.now)


def test_a_refresh_that_finds_no_account_forgets_the_link(
    mapping: UserMapping, slack: InMemorySlack, uow: UnitOfWorkFactory, clock: Clock
) -> None:
    mapping.jira_user_for(T, ALICE)
    slack.add_user(ALICE, "alice", email="alice@elsewhere.example")
    clock.advance(days=2)

    assert mapping.jira_user_for(T, ALICE) is None
    assert stored_links(uow) == []


def test_refresh_window_is_configurable(
    uow: UnitOfWorkFactory, slack: InMemorySlack, jira: InMemoryJira, clock: Clock
) -> None:
    mapping = UserMapping(uow, slack, jira, clock=clock, refresh_after=timedelta(minutes=10))
    mapping.jira_user_for(T, ALICE)
    clock.advance(minutes=11)

    mapping.jira_user_for(T, ALICE)
    assert lookups(slack, jira) == (2, 2)


# -- no mapping -----------------------------------------------------------------------------


def test_no_email_on_the_slack_profile_maps_to_nobody(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira, uow: UnitOfWorkFactory
) -> None:
    slack.add_user("U0NOMAIL", "nomail")

    assert mapping.jira_user_for(T, "U0NOMAIL") is None
    assert stored_links(uow) == []
    assert lookups(slack, jira) == (1, 0)


def test_a_miss_is_remembered_for_a_few_minutes(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira, clock: Clock
) -> None:
    slack.add_user("U0DAN", "dan", email="dan@example.com")

    assert mapping.jira_user_for(T, "U0DAN") is None
    clock.advance(minutes=4)
    assert mapping.jira_user_for(T, "U0DAN") is None
    assert lookups(slack, jira) == (1, 1)

    jira.add_user("dan@example.com", "Dan Dorsey", "acc-dan")
    clock.advance(minutes=2)
    assert mapping.jira_user_for(T, "U0DAN") == JiraUser("acc-dan", "Dan Dorsey", "dan@example.com")
    assert lookups(slack, jira) == (2, 2)


def test_several_accounts_with_the_email_map_to_nobody(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira, uow: UnitOfWorkFactory
) -> None:
    jira.add_user("ops@example.com", "Ops One", "acc-ops-1")
    jira.add_user("OPS@example.com", "Ops Two", "acc-ops-2")
    slack.add_user("U0OPS", "ops", email="ops@example.com")

    assert mapping.jira_user_for(T, "U0OPS") is None
    assert mapping.connect(T, "U0OPS").status is ConnectStatus.AMBIGUOUS
    assert stored_links(uow) == []


def test_inactive_accounts_do_not_count(
    mapping: UserMapping, slack: InMemorySlack, jira: UserSearchJira
) -> None:
    slack.add_user("U0ERIN", "erin", email="erin@example.com")
    jira.also_found["erin@example.com"] = [
        JiraUser("acc-erin-old", "Erin (left)", "erin@example.com", active=False)
    ]
    assert mapping.connect(T, "U0ERIN").status is ConnectStatus.NO_JIRA_ACCOUNT

    jira.add_user("erin@example.com", "Erin Evans", "acc-erin")
    result = mapping.connect(T, "U0ERIN")
    assert result.jira_user == JiraUser("acc-erin", "Erin Evans", "erin@example.com")


def test_an_account_whose_email_jira_hides_is_not_matched(
    mapping: UserMapping, slack: InMemorySlack, jira: UserSearchJira
) -> None:
    slack.add_user("U0FAY", "fay", email="fay@example.co")
    # Jira Cloud's fuzzy search also finds fay@example.com, whose e-mail it hides.
    jira.also_found["fay@example.co"] = [JiraUser("acc-fay", "Fay Fox", None)]

    assert mapping.jira_user_for(T, "U0FAY") is None
    assert mapping.connect(T, "U0FAY").status is ConnectStatus.NO_JIRA_ACCOUNT


@pytest.mark.parametrize("kind", ["bot", "deleted", "unknown"])
def test_bots_deleted_and_unknown_slack_users_map_to_nobody(
    kind: str, mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira
) -> None:
    user_id = {"bot": slack.bot_user_id, "deleted": "U0GONE", "unknown": "U0WHO"}[kind]
    slack.add_user("U0GONE", "gone", email="carol@example.com", deleted=True)

    assert mapping.jira_user_for(T, user_id) is None
    assert mapping.connect(T, user_id).status is ConnectStatus.NOT_A_PERSON
    assert lookups(slack, jira)[1] == 0


# -- nobody maps to another person's account ------------------------------------------------


def test_a_fuzzy_search_hit_with_another_email_is_not_taken(
    mapping: UserMapping, slack: InMemorySlack, jira: UserSearchJira
) -> None:
    slack.add_user("U0AL", "al", email="al@example.com")
    jira.also_found["al@example.com"] = [jira.user("acc-alice")]  # Jira Cloud's search is fuzzy

    assert mapping.jira_user_for(T, "U0AL") is None
    assert mapping.connect(T, "U0AL").status is ConnectStatus.NO_JIRA_ACCOUNT


def test_a_name_like_someone_elses_does_not_map_to_their_account(
    mapping: UserMapping, slack: InMemorySlack, uow: UnitOfWorkFactory
) -> None:
    slack.add_user(
        "U0MAL", "alice.adams", real_name="Alice Adams", email="mallory@evil.example.com"
    )

    assert mapping.connect(T, "U0MAL").status is ConnectStatus.NO_JIRA_ACCOUNT
    assert mapping.jira_user_for(T, "U0MAL") is None
    assert stored_links(uow) == []


# -- connect ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "status", "expected"),
    [
        ("BOB@example.com", ConnectStatus.CONNECTED, "acc-bob"),
        (None, ConnectStatus.NO_EMAIL, None),
        ("nobody@example.com", ConnectStatus.NO_JIRA_ACCOUNT, None),
        ("team@example.com", ConnectStatus.AMBIGUOUS, None),
    ],
)
def test_connect_says_what_happened(
    email: str | None,
    status: ConnectStatus,
    expected: str | None,
    mapping: UserMapping,
    slack: InMemorySlack,
    jira: InMemoryJira,
) -> None:
    jira.add_user("team@example.com", "Team A", "acc-team-a")
    jira.add_user("team@example.com", "Team B", "acc-team-b")
    slack.add_user("U0NEW", "new", email=email)

    result = mapping.connect(T, "U0NEW")

    assert result.status is status
    assert result.connected == (status is ConnectStatus.CONNECTED)
    assert account(result.jira_user) == expected
    assert result.email == (email if status is not ConnectStatus.NO_EMAIL else None)
    assert account(mapping.whoami(T, "U0NEW")) == expected


def test_connect_ignores_the_caches(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira
) -> None:
    slack.add_user("U0DAN", "dan", email="dan@example.com")
    assert mapping.jira_user_for(T, "U0DAN") is None  # remembered as a miss
    jira.add_user("dan@example.com", "Dan Dorsey", "acc-dan")

    assert mapping.connect(T, "U0DAN").connected
    assert account(mapping.jira_user_for(T, "U0DAN")) == "acc-dan"

    slack.add_user("U0DAN", "dan", email="carol@example.com")  # fresh link, changed profile
    assert account(mapping.connect(T, "U0DAN").jira_user) == "acc-carol"
    assert lookups(slack, jira) == (3, 3)


def test_connect_without_a_match_forgets_the_previous_link(
    mapping: UserMapping, slack: InMemorySlack, uow: UnitOfWorkFactory
) -> None:
    mapping.connect(T, ALICE)
    slack.add_user(ALICE, "alice")  # the e-mail is no longer visible

    assert mapping.connect(T, ALICE).status is ConnectStatus.NO_EMAIL
    assert mapping.whoami(T, ALICE) is None
    assert stored_links(uow) == []


# -- whoami ----------------------------------------------------------------------------------


def test_whoami_reads_the_stored_link_only(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira, clock: Clock
) -> None:
    assert mapping.whoami(T, ALICE) is None
    assert lookups(slack, jira) == (0, 0)

    mapping.connect(T, ALICE)
    clock.advance(days=3)
    link = mapping.whoami(T, ALICE)

    assert isinstance(link, Mapping)
    assert link.jira_user == JiraUser("acc-alice", "Alice Adams", "Alice@Example.COM")
    assert link.verified_at == clock.now - timedelta(days=3)
    assert lookups(slack, jira) == (1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.jira_account_id = "acc-bob"  # type: ignore[misc]


# -- disconnect ------------------------------------------------------------------------------


def test_disconnect_forgets_the_link_and_opts_out_until_connect(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira, clock: Clock
) -> None:
    mapping.jira_user_for(T, ALICE)

    assert mapping.disconnect(T, ALICE) is True
    assert mapping.whoami(T, ALICE) is None
    calls = lookups(slack, jira)
    clock.advance(days=30)
    assert mapping.jira_user_for(T, ALICE) is None  # not re-derived from the e-mail
    assert lookups(slack, jira) == calls
    assert mapping.disconnect(T, ALICE) is False

    assert mapping.connect(T, ALICE).connected
    assert account(mapping.jira_user_for(T, ALICE)) == "acc-alice"


def test_disconnect_before_any_link_still_opts_out(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira
) -> None:
    assert mapping.disconnect(T, BOB) is False

    assert mapping.jira_user_for(T, BOB) is None
    assert lookups(slack, jira) == (0, 0)


def test_an_opt_out_made_during_a_refresh_wins(
    mapping: UserMapping,
    uow: UnitOfWorkFactory,
    slack: HookedSlack,
    jira: InMemoryJira,
    clock: Clock,
) -> None:
    elsewhere = UserMapping(uow, InMemorySlack(team_id=T), jira, clock=clock)  # another process
    mapping.jira_user_for(T, ALICE)
    clock.advance(days=2)
    slack.on_next_user_info = lambda: elsewhere.disconnect(T, ALICE)

    assert mapping.jira_user_for(T, ALICE) is None
    assert mapping.whoami(T, ALICE) is None
    assert stored_links(uow) == [(T, ALICE, "")]


# -- outages ---------------------------------------------------------------------------------


def test_a_stale_link_survives_a_jira_outage(
    mapping: UserMapping,
    slack: InMemorySlack,
    jira: InMemoryJira,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mapping.jira_user_for(T, ALICE)
    verified = clock.now
    clock.advance(days=2)
    jira.fail_next(JiraUnavailable("Jira is down"), operation="find_users_by_email")

    with caplog.at_level(logging.WARNING, logger="services.people.accounts"):
        assert account(mapping.jira_user_for(T, ALICE)) == "acc-alice"
    assert "Jira is down" in caplog.text
    assert verified_at(mapping.whoami(T, ALICE)) == verified

    mapping.jira_user_for(T, ALICE)  # not retried at once
    assert lookups(slack, jira) == (2, 2)
    clock.advance(minutes=2)
    mapping.jira_user_for(T, ALICE)
    assert lookups(slack, jira) == (3, 3)
    assert verified_at(mapping.whoami(T, ALICE)) == clock.now


def test_a_stale_link_survives_a_slack_outage(
    mapping: UserMapping, slack: InMemorySlack, clock: Clock
) -> None:
    mapping.jira_user_for(T, ALICE)
    clock.advance(days=2)
    slack.fail_next("service_unavailable", method="user_info")

    assert account(mapping.jira_user_for(T, ALICE)) == "acc-alice"


def test_without_a_stored_link_an_outage_propagates(
    mapping: UserMapping, slack: InMemorySlack, jira: InMemoryJira, uow: UnitOfWorkFactory
) -> None:
    jira.fail_next(JiraUnavailable("Jira is down"), operation="find_users_by_email")
    with pytest.raises(JiraUnavailable):
        mapping.jira_user_for(T, ALICE)
    slack.fail_next("service_unavailable", method="user_info")
    with pytest.raises(SlackUnavailable):
        mapping.connect(T, ALICE)
    assert stored_links(uow) == []

    assert mapping.jira_user_for(T, ALICE) is not None  # the failure was not remembered


# -- teams and threads -----------------------------------------------------------------------


def test_the_same_user_id_in_two_teams_maps_separately(
    mapping: UserMapping, uow: UnitOfWorkFactory, jira: InMemoryJira, clock: Clock
) -> None:
    other_slack = InMemorySlack(team_id="T2")
    other_slack.add_user(ALICE, "someone", email="bob@example.com")
    other_team = UserMapping(uow, other_slack, jira, clock=clock)

    assert account(mapping.jira_user_for(T, ALICE)) == "acc-alice"
    assert mapping.whoami("T2", ALICE) is None
    assert account(other_team.jira_user_for("T2", ALICE)) == "acc-bob"

    assert mapping.disconnect(T, ALICE) is True
    assert account(other_team.whoami("T2", ALICE)) == "acc-bob"
    assert account(other_team.jira_user_for("T2", ALICE)) == "acc-bob"


def test_concurrent_lookups_of_one_user_resolve_once(
    mapping: UserMapping, uow: UnitOfWorkFactory, slack: InMemorySlack, jira: InMemoryJira
) -> None:
    jira.delay_seconds = 0.05

    with ThreadPoolExecutor(max_workers=8) as pool:
        users = list(pool.map(lambda _: mapping.jira_user_for(T, ALICE), range(8)))

    assert {account(user) for user in users} == {"acc-alice"}
    assert lookups(slack, jira) == (1, 1)
    assert stored_links(uow) == [(T, ALICE, "acc-alice")]


# -- display names ---------------------------------------------------------------------------


def test_display_name_is_the_slack_name_cached(
    mapping: UserMapping, slack: InMemorySlack, clock: Clock
) -> None:
    slack.add_user("U0NICK", "nick", real_name="", display_name="Nicky")

    assert mapping.display_name_for(T, ALICE) == "Alice Adams"
    assert mapping.display_name_for(T, ALICE) == "Alice Adams"
    assert mapping.display_name_for(T, "U0NICK") == "Nicky"
    assert len(slack.calls_to("user_info")) == 2

    clock.advance(hours=2)
    mapping.display_name_for(T, ALICE)
    assert len(slack.calls_to("user_info")) == 3


def test_display_name_shares_the_profile_fetched_for_the_mapping(
    mapping: UserMapping, slack: InMemorySlack
) -> None:
    mapping.jira_user_for(T, BOB)

    assert mapping.display_name_for(T, BOB) == "Bob Baker"
    assert len(slack.calls_to("user_info")) == 1


def test_display_name_falls_back_to_the_user_id(mapping: UserMapping, slack: InMemorySlack) -> None:
    assert mapping.display_name_for(T, "U0WHO") == "U0WHO"

    slack.fail_next("service_unavailable", method="user_info")
    assert mapping.display_name_for(T, ALICE) == ALICE
    assert mapping.display_name_for(T, ALICE) == "Alice Adams"  # the failure was not cached
