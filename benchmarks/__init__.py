"""Benchmarks for the SPEC §10 performance bars: `python -m benchmarks` (or `make bench`).

Each module has NAME, TITLE, a FULL and a TINY size, and `run(size) -> Result`. They are
imported when asked for (`benchmark(name)`), not with the package: the servers under test
(`python -m benchmarks.target`), the fake Slack and the markup timer run as subprocesses of
this package, and a bare Bolt app must not start with Connect's whole runtime in its heap.
"""

from __future__ import annotations

import importlib
from types import ModuleType

BENCHMARKS: tuple[str, ...] = (
    "ack",
    "events",
    "previews",
    "poller",
    "webhooks",
    "memory",
    "markup",
)


def benchmark(name: str) -> ModuleType:
    """The benchmark module called `name` (one of BENCHMARKS)."""
    if name not in BENCHMARKS:
        raise KeyError(name)
    return importlib.import_module(f"benchmarks.{name}")
