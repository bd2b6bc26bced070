"""The collector's settings `serve`, `socket` and `worker` apply once start-up is done."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot import gc_tuning


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_settle_freezes_start_up_and_makes_full_collections_rarer() -> None:
    built_at_start_up = [{"kept": n} for n in range(100)]
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    gc_tuning.settle()
    assert gc.get_freeze_count() >= len(built_at_start_up)
    assert gc.get_threshold() == gc_tuning.THRESHOLDS
    young, middle, full = gc_tuning.THRESHOLDS
    assert (young, middle) == (700, 10)  # most garbage cycles die there: collected as often
    assert full > 10
