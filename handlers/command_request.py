"""What a `/jira` subcommand's runner takes and gives back, apart from handlers.commands so
that the subcommand modules it dispatches to need not import it back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.payloads import SlashCommand
from services.commands import Invocation
from services.connect_services import ConnectServices

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CommandRequest:
    command: SlashCommand
    invocation: Invocation


# A subcommand answered after the ack: its reply, as handlers.answers.answer sends it.
Runner = Callable[[ConnectServices, CommandRequest], Message]
