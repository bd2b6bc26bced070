"""What a benchmark hands back: rows of figures, each against its SPEC §10 bar."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

PASS, MISS, INFO, SKIP = "PASS", "MISS", "info", "SKIP"


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    bar: str = ""
    verdict: str = INFO


@dataclass
class Result:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Structural figures the smoke test checks (call counts, rows sent), never times.
    counts: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None

    def add(self, measure: str, value: str, bar: str = "", verdict: str = INFO) -> None:
        self.rows.append(Row(measure, value, bar, verdict))

    def check(self, measure: str, value: str, bar: str, ok: bool) -> None:
        self.add(measure, value, bar, PASS if ok else MISS)

    def skip(self, why: str) -> Result:
        self.skipped = why
        self.add("(benchmark)", "not run", "", SKIP)
        self.notes.append(why)
        return self

    @property
    def missed(self) -> list[Row]:
        return [row for row in self.rows if row.verdict == MISS]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def secs(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds:.2f} s"


def render_text(result: Result) -> str:
    lines = [f"== {result.name}: {result.title}"]
    header = ("measure", "value", "bar", "verdict")
    rows = [header, *((r.measure, r.value, r.bar, r.verdict) for r in result.rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.extend(f"  note: {note}" for note in result.notes)
    return "\n".join(lines)


def render_markdown(results: Sequence[Result]) -> str:
    """Every figure, one table per benchmark."""
    out: list[str] = []
    for result in results:
        out.append(f"**{result.name}**: {result.title}\n")
        out.extend(_table(("measure", "value", "bar", "verdict"), result.rows))
        out.extend(f"\n_{note}_" for note in result.notes)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_summary(results: Sequence[Result]) -> str:
    """The figures that have a bar, one table for all (every figure: `render_markdown`)."""
    rows = [(r.name, row) for r in results for row in r.rows if row.verdict in (PASS, MISS)]
    out = ["| benchmark | measure | figure | bar | |", "|---|---|---|---|---|"]
    for name, row in rows:
        out.append(_cells((name, row.measure, row.value, row.bar, row.verdict)))
    return "\n".join(out) + "\n"


def _table(header: tuple[str, ...], rows: Sequence[Row]) -> list[str]:
    lines = [_cells(header), "|" + "---|" * len(header)]
    for row in rows:
        lines.append(_cells((row.measure, row.value, row.bar, row.verdict)))
    return lines


def _cells(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
