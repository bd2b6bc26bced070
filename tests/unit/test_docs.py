"""The manual, the architecture page and the benchmarks' notes: links that lead somewhere,
paths that exist, and `--update-readme` writing each table where it belongs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.__main__ import DETAILS, END, README, START, update_readme
from benchmarks.report import INFO, PASS, Result

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", ROOT / "docs" / "architecture.md", ROOT / "benchmarks" / "README.md")
# [text](target): relative targets only (no scheme, no mail address).
LINK = re.compile(r"\[[^\]]*\]\((?![a-z]+:)([^)\s]*)\)")
# A path of the repository named in backticks: `bot/container.py`, `tests/faults/`.
REPO_PATH = re.compile(r"`([a-z_]+/[\w./]*(?:\.py|\.md|/))`")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text()):
        name, _, anchor = target.partition("#")
        file = (doc.parent / name).resolve() if name else doc
        if not file.exists() or (file.suffix == ".md" and anchor and anchor not in anchors(file)):
            broken.append(target)
    assert broken == []


# The manual and the architecture describe the code as it is; the benchmarks' notes also
# tell its history, where a module may be named that is gone since.
@pytest.mark.parametrize("doc", DOCS[:2], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_named_exists(doc: Path) -> None:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    missing = sorted({p for p in REPO_PATH.findall(text) if not (ROOT / p).exists()})
    assert missing == []


def test_the_manual_points_to_the_architecture_and_the_benchmarks() -> None:
    targets = {t.partition("#")[0] for t in LINK.findall((ROOT / "README.md").read_text())}
    assert {"docs/architecture.md", "benchmarks/README.md"} <= targets


def test_both_files_carry_the_markers_update_readme_needs() -> None:
    for path in (README, DETAILS):
        text = path.read_text()
        assert text.count(START) == 1 and text.count(END) == 1
        assert text.index(START) < text.index(END)


def _result() -> Result:
    result = Result("ack", "ack latency")
    result.check("/jira show: Connect", "p99 14.0 ms", "every ack < 3 s", ok=True)
    result.add("/jira show: bare Bolt", "p99 15.7 ms", "", INFO)
    return result


def test_update_readme_writes_the_summary_in_the_manual_and_every_figure_beside_it(
    tmp_path: Path,
) -> None:
    readme, details = tmp_path / "README.md", tmp_path / "details.md"
    readme.write_text(f"# Manual\n\n{START}\nold table\n{END}\n\n## After\n")
    details.write_text(f"# Benchmarks\n\n## Latest run\n\n{START}\nold figures\n{END}\n")

    update_readme([_result()], readme=readme, details=details)

    manual, beside = readme.read_text(), details.read_text()
    assert manual.startswith("# Manual\n\n") and manual.endswith(f"{END}\n\n## After\n")
    assert "old table" not in manual and "old figures" not in beside
    assert f"| ack | /jira show: Connect | p99 14.0 ms | every ack < 3 s | {PASS} |" in manual
    assert "bare Bolt" not in manual and "<details>" not in manual
    assert "(benchmarks/README.md#latest-run)" in manual
    assert "| /jira show: bare Bolt | p99 15.7 ms |  | info |" in beside
    assert "| /jira show: Connect | p99 14.0 ms | every ack < 3 s | PASS |" in beside
    assert beside.startswith("# Benchmarks\n\n## Latest run\n\n")


def test_update_readme_changes_nothing_when_a_file_lacks_its_markers(tmp_path: Path) -> None:
    readme, details = tmp_path / "README.md", tmp_path / "details.md"
    readme.write_text(f"{START}\nold table\n{END}\n")
    details.write_text("# no markers\n")

    with pytest.raises(SystemExit):
        update_readme([_result()], readme=readme, details=details)

    assert readme.read_text() == f"{START}\nold table\n{END}\n"
