from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.harness import FuzzedConnect, fuzzed_connect


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzedConnect]:
    """One Connect per module: hypothesis runs many examples against the same app."""
    with fuzzed_connect(tmp_path_factory.mktemp("fuzz")) as connect:
        yield connect
