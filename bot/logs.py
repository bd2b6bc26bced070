"""Logging for the whole process: one handler on stderr, text or JSON lines, no secrets.

`configure_logging(settings)` is called once by the command line. Every record then carries
the fields of services.log_context (request_id, delivery_id, outbox_id) and passes through
`Redactor`, which removes Slack tokens, `Authorization` values and the configured secrets
from the message, its arguments and any traceback, before either format renders it.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from bot.settings import Settings
from services.log_context import current

REDACTED = "[REDACTED]"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s%(log_context)s"
CONTEXT_FIELDS = ("request_id", "delivery_id", "outbox_id")
LOG_FORMATS = ("text", "json")
# Shorter configured values are left alone: replacing every "abc" in every line helps nobody.
MIN_SECRET_LENGTH = 6

_SLACK_TOKEN = re.compile(r"\b(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]+")
# `Authorization: Bearer x`, `'Authorization': 'Basic x'`, `authorization=x`: the value goes.
_AUTHORIZATION = re.compile(
    r"""(authorization['"]?\s*[:=]\s*['"]?)(?:(?:bearer|basic|token)\s+)?[^\s'",;}]+""",
    re.IGNORECASE,
)


class Redactor(logging.Filter):
    """Rewrites each record so that no secret reaches any handler or format."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first: a secret that contains another one is removed whole.
        self._secrets = sorted(unique, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _SLACK_TOKEN.sub(REDACTED, text)
        return _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what there is, still redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info:
            # Rendered once here, redacted; both formats use exc_text when exc_info is gone.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class ContextFields(logging.Filter):
    """Puts the current log_context fields on the record (as attributes: JSON keys)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """Today's format; the context fields, when there are any, follow the message."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        fields = [
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        ]
        record.log_context = f" [{' '.join(fields)}]" if fields else ""
        return super().format(record)


def json_formatter() -> JsonFormatter:
    """{"timestamp", "level", "logger", "message", request_id…, "exc_info"}: one object a line."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
        reserved_attrs=[*RESERVED_ATTRS, "log_context", "taskName"],
        json_ensure_ascii=False,
    )


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold (each key of a comma list of keys too)."""
    values: list[str] = []
    for name in (
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_secret",
        "jira_api_token",
        "jira_pat",
        "jira_webhook_secret",
        "connect_encryption_key",
    ):
        secret: Any = getattr(settings, name, None)
        if secret is None:
            continue
        value = secret.get_secret_value()
        values.append(value)
        values.extend(part.strip() for part in value.split(",") if part.strip())
    return values


def build_handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFields())
    handler.addFilter(Redactor(secrets_of(settings)))
    json = settings.connect_log_format == "json"
    handler.setFormatter(json_formatter() if json else TextFormatter())
    handler.set_name("connect")
    return handler


# Loggers whose owners test the logger's own level (`logger.level <= DEBUG`, true while it is
# unset) rather than asking logging whether DEBUG is on: slack_sdk then formats every Web API
# call's body and headers into a debug line that is thrown away, Bolt a line per middleware
# of every request. Set to the configured level, they build those lines only when it is DEBUG.
SELF_CHECKING_LOGGERS = (
    "slack_sdk.web.base_client",
    "slack_sdk.web.async_base_client",  # Connect's calls (clients/slack_transport)
    "slack_sdk.webhook.client",
    "slack_sdk.webhook.async_client",
    "connect.bolt",
)


class OnceAMinute(logging.Filter):
    """Lets a logger's lines through at most once per `period` seconds; the next one let
    through says how many were held back.

    For waitress's "Task queue depth is N": it is logged for each request that arrives while
    no server thread is idle, which under a burst is a line for most requests, written by the
    thread that reads every connection, at the moment the server is busiest. Likewise for
    modals dropped because Slack calls backed up past their triggers' life."""

    def __init__(self, period: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.period = period
        self._clock = clock
        self._next = -math.inf
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        with self._lock:
            if now < self._next:
                self._held += 1
                return False
            held, self._held, self._next = self._held, 0, now + self.period
        if held:
            record.msg = f"{record.msg} ({held} such lines held back in the last minute or so)"
        return True


NOISY_LOGGERS = ("waitress.queue", "connect.modal_opener.expired")


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """The root logger's one handler, at CONNECT_LOG_LEVEL, in CONNECT_LOG_FORMAT."""
    root = logging.getLogger()
    for name in NOISY_LOGGERS:
        noisy = logging.getLogger(name)
        if not any(isinstance(f, OnceAMinute) for f in noisy.filters):
            noisy.addFilter(OnceAMinute())
    for old in [h for h in root.handlers if h.get_name() == "connect"]:
        root.removeHandler(old)
    handler = build_handler(settings, stream)
    root.addHandler(handler)
    root.setLevel(settings.connect_log_level)
    for name in SELF_CHECKING_LOGGERS:
        logging.getLogger(name).setLevel(settings.connect_log_level)
    return handler
