"""Connect uses slack_bolt and slack_sdk through their public interfaces only, and registers
no lazy listeners: work after an ack goes to handlers.after_ack (issue #19's done check)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "services", "clients")
# What reaches into a framework's privates: its underscore names, Bolt's listener list (an
# object's own `self._listeners` is its business), the lazy listener machinery, slack_sdk's
# urllib transport.
PRIVATE = re.compile(
    r"from (slack_bolt|slack_sdk)[a-z_.]* import _|(?<!self)\._listeners|_build_lazy"
    r"|_perform_urllib"
)
LAZY_LISTENER = re.compile(r"\blazy\s*=")


def sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_no_private_framework_internals() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert found == []


def test_no_lazy_listener_is_registered() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LAZY_LISTENER.search(line)
    ]
    assert found == []
