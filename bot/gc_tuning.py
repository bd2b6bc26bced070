"""The collector's settings for a long-running process, applied once start-up is done.

What start-up built (modules, the app, its services) lives as long as the process, so it is
moved out of the collector's reach (`gc.freeze`): full collections of it paused acks by
45-90 ms in benchmarks/ack.py.

After that, what a full collection walks is the work in hand: under a burst, the requests
whose work waits for Jira after the ack (benchmarks/ack.py queues hundreds of them, about 80
objects each). CPython runs a full collection every 10th middle one once that heap has grown
by a quarter, so a growing backlog was walked again and again, 25-116 ms each time, and every
ack in flight waited. Full collections are made ten times rarer here (CPython's defaults are
700, 10, 10); the young and middle generations, where most garbage cycles die, are collected
as often as before.
"""

from __future__ import annotations

import gc

THRESHOLDS = (700, 10, 100)


def settle() -> None:
    """Freeze what start-up built and set the thresholds: called once, before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
