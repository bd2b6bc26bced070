"""Fields every log line carries while a piece of work runs: `request_id`, `delivery_id`, …

Kept in a context variable, so each thread (and each task of bot.context_executor's pool,
which copies its submitter's context) has its own. bot/logs.py puts them on every record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType

_EMPTY: Mapping[str, str] = MappingProxyType({})
_FIELDS: ContextVar[Mapping[str, str]] = ContextVar("connect_log_fields", default=_EMPTY)


def current() -> Mapping[str, str]:
    """The fields set here, innermost last."""
    return _FIELDS.get()


def bind(**fields: object) -> Token[Mapping[str, str]]:
    """Add fields (None values are skipped) until `unbind(token)`."""
    added = {name: str(value) for name, value in fields.items() if value is not None}
    return _FIELDS.set(MappingProxyType({**_FIELDS.get(), **added}))


def unbind(token: Token[Mapping[str, str]]) -> None:
    _FIELDS.reset(token)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """`with log_context(delivery_id=key): …`: the fields are on every line logged inside."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)
