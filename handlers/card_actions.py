"""The buttons on every issue card: Assign to me, Transition (a select) and Comment (a modal).

Each acks at once; the Jira work runs after the ack (handlers.after_ack), is done as the
clicking person's mapped Jira account (no mapping: they are asked to `/jira connect`), and the
card is then re-rendered in place with a line saying who did what. The Transition select loads
its options from Jira when opened (block_suggestion), so rendering a card costs no Jira call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App

from clients.jira_client import JiraError, JiraIssue, JiraUser, Transition
from handlers import card_comment, cards, identity
from handlers.after_ack import AfterAck
from handlers.blocks import one_of
from handlers.card_places import CardPlace, own_action, tell, update_card
from handlers.payloads import CardAction, OptionsRequest
from services.connect_services import ConnectServices
from services.errors import user_message_for
from services.issues import card_parts
from services.issues.cache import IssueCache
from services.issues.keys import parse_issue_key, project_of
from services.people.person_jira import JiraNotConnected

log = logging.getLogger(__name__)

NOT_CONNECTED = (
    "I don't know your Jira account yet, so I can't do that for you. Run `/jira connect` "
    "to map yourself to the Jira account with your Slack e-mail, then try again."
)
SOMETHING_WENT_WRONG = ":warning: Something went wrong on Connect's side; try again."
OPTIONS_DEADLINE = 2.0  # seconds: Slack drops an options answer after 3
OPTIONS_THREADS = 2  # bot.container's pool for the Transition select's look-ups
OPTION_TEXT_MAX = 75


def register(app: App, cache: IssueCache, options_pool: Executor) -> None:
    """`options_pool`: the Transition select's own threads (option look-ups queued behind
    slow work elsewhere would miss Slack's 3 s)."""
    actions = CardActions(cache)
    app.action(one_of(card_parts.ASSIGN_ME_ACTION, card_parts.TRANSITION_ACTION))(
        actions.acknowledge
    )
    app.options(card_parts.TRANSITION_ACTION)(TransitionOptions(options_pool).suggest)
    card_comment.register(app)


class CardActions:
    def __init__(self, cache: IssueCache) -> None:
        self.cache = cache

    def acknowledge(
        self,
        ack: Ack,
        body: dict[str, Any],
        services: ConnectServices,
        after_ack: AfterAck,
    ) -> None:
        action = CardAction.model_validate(body)
        ack()
        if action.action.action_id == card_parts.ASSIGN_ME_ACTION:
            after_ack.submit("assign_to_me", self.assign_to_me, action, services)
        else:
            after_ack.submit("transition", self.transition, action, services)

    def assign_to_me(self, action: CardAction, services: ConnectServices) -> None:
        key = parse_issue_key(action.action.value or "")
        if key is None:
            return

        def assign(acting: ConnectServices, me: JiraUser) -> tuple[JiraIssue, str]:
            issue = acting.issues.assign(key, me)
            return issue, f"<@{action.user.id}> assigned this to *{cards.escape(me.display_name)}*"

        self._act(services, action, key, lambda me, acting: assign(acting, me))

    def transition(self, action: CardAction, services: ConnectServices) -> None:
        key = card_parts.key_of_block(action.action.block_id)
        picked = action.action.selected_option.value if action.action.selected_option else ""
        if key is None or not picked:
            return

        def move(acting: ConnectServices, me: JiraUser) -> tuple[JiraIssue, str]:
            moved = acting.issues.transition(key, picked)
            note = (
                f"<@{action.user.id}> moved this {cards.escape(moved.before.status)} → "
                f"*{cards.escape(moved.after.status)}*"
            )
            return moved.after, note

        self._act(services, action, key, lambda me, acting: move(acting, me))

    def _act(
        self,
        services: ConnectServices,
        action: CardAction,
        key: str,
        change: Callable[[JiraUser, ConnectServices], tuple[JiraIssue, str]],
    ) -> None:
        place = CardPlace.of(action, key)
        try:
            # JIRA_AUTH_MODE=user: the person's own token (their permissions, their name).
            acting = services.as_person(place.team_id, place.user_id)
            me = services.users.jira_user_for(place.team_id, place.user_id)
            if me is None:
                tell(services, action, NOT_CONNECTED)
                return
            own = own_action(services, place)
            issue, note = change(me, acting)
            own.accepted(issue.key)
        except JiraNotConnected as error:
            prompt = identity.not_connected(services, place.team_id, place.user_id, error)
            tell(services, action, prompt["text"], card=prompt["blocks"][1:])
            return
        except Exception as error:
            message = user_message_for(error)
            if message is None:
                log.exception("card action %s on %s failed", action.action.action_id, key)
                message = SOMETHING_WENT_WRONG
            tell(services, action, message)
            return
        self.cache.remember(issue, key=key)
        update_card(services, action, key, issue, note)


class TransitionOptions:
    """The Transition select's options: the issue's transitions now, filtered by what is typed."""

    def __init__(self, executor: Executor, *, deadline: float = OPTIONS_DEADLINE) -> None:
        self._executor = executor
        self._deadline = deadline

    def suggest(self, ack: Ack, body: dict[str, Any], services: ConnectServices) -> None:
        request = OptionsRequest.model_validate(body)
        key = card_parts.key_of_block(request.block_id)
        if key is None or not services.policy.project_allowed(project_of(key)):
            ack(options=[])
            return
        team, user = request.team.id or "", request.user.id or ""

        def look_up() -> list[Transition]:  # those the person may make, in JIRA_AUTH_MODE=user
            return services.as_person(team, user).jira.transitions(key)

        lookup = self._executor.submit(look_up)
        try:
            transitions = lookup.result(timeout=self._deadline)
        except TimeoutError:
            lookup.cancel()
            log.info("transitions of %s: no answer from Jira within %.1f s", key, self._deadline)
            transitions = []
        except JiraError as error:
            log.info("transitions of %s: %s", key, error.message)
            transitions = []
        except JiraNotConnected:
            transitions = []
        ack(options=transition_options(transitions, request.value))


def transition_options(transitions: list[Transition], typed: str = "") -> list[dict[str, Any]]:
    """One option per transition, named after it (and its target status when that differs)."""
    wanted = typed.strip().casefold()
    options = []
    for transition in transitions:
        if wanted and not (
            wanted in transition.name.casefold() or wanted in transition.to_status.casefold()
        ):
            continue
        label = transition.name
        if transition.to_status.casefold() != transition.name.casefold():
            label = f"{transition.name} → {transition.to_status}"
        if len(label) > OPTION_TEXT_MAX:
            label = label[: OPTION_TEXT_MAX - 1] + "…"
        options.append(
            {"text": {"type": "plain_text", "text": label}, "value": transition.name[:150]}
        )
    return options[:100]
