"""The one place that recognises Jira issue keys (`OPS-12`) in text."""

from __future__ import annotations

import re

# A project key starts with a letter; keys in URLs or words (`xOPS-1`, `OPS-1x`) do not count.
_KEY = r"[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,9}"
ISSUE_KEY = re.compile(rf"(?<![A-Za-z0-9_/-])({_KEY})(?![A-Za-z0-9_-])")
_WHOLE_KEY = re.compile(rf"^{_KEY}$")


def parse_issue_key(word: str) -> str | None:
    """`ops-12` or `OPS-12` → `OPS-12`; anything else → None."""
    candidate = word.strip().upper()
    return candidate if _WHOLE_KEY.match(candidate) else None


def find_issue_keys(text: str) -> list[str]:
    """Keys named in free text, in order of first mention, without repeats."""
    seen: dict[str, None] = {}
    for match in ISSUE_KEY.finditer(text):
        seen.setdefault(match.group(1), None)
    return list(seen)


def project_of(key: str) -> str:
    return key.rsplit("-", 1)[0]
