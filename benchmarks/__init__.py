"""Benchmarks for the SPEC §10 performance bars: `python -m benchmarks` (or `make bench`).

Each module has NAME, TITLE, a FULL and a TINY size, and `run(size) -> Result`.
"""

from __future__ import annotations

from types import ModuleType

from benchmarks import ack, events, markup, memory, poller, previews, webhooks

BENCHMARKS: dict[str, ModuleType] = {
    module.NAME: module for module in (ack, events, previews, poller, webhooks, memory, markup)
}
