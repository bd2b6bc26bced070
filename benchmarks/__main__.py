"""`python -m benchmarks [NAME ...] [--quick] [--markdown] [--update-readme]`.

Runs the SPEC §10 benchmarks (all, or the ones named) and prints a table per benchmark with
each figure's bar and PASS/MISS. Exits 0 even when a bar is missed: figures on a shared,
noisy machine are evidence to read, not a gate.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import BENCHMARKS, benchmark
from benchmarks.report import Result, render_markdown, render_summary, render_text

ROOT = Path(__file__).resolve().parent.parent
# The manual keeps the figures that have a bar; every figure goes beside the benchmarks.
README = ROOT / "README.md"
DETAILS = ROOT / "benchmarks" / "README.md"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
DETAILS_LINK = "[benchmarks/README.md](benchmarks/README.md#latest-run)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that they run")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="write the summary into README.md and every figure into benchmarks/README.md",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    logging.basicConfig(level=logging.ERROR)  # the benchmark's own fakes and clients stay quiet
    results: list[Result] = []
    for name in args.names or list(BENCHMARKS):
        module = benchmark(name)
        started = time.perf_counter()
        result = module.run(module.TINY if args.quick else module.FULL)
        print(render_text(result))
        print(f"  ({time.perf_counter() - started:.0f} s)\n", flush=True)
        results.append(result)
    missed = [f"{r.name}: {row.measure}" for r in results for row in r.missed]
    print(f"{len(missed)} bar(s) missed" + (":\n  " + "\n  ".join(missed) if missed else "."))
    if args.markdown:
        print(render_markdown(results))
    if args.update_readme:
        update_readme(results)
    return 0


def update_readme(
    results: Sequence[Result], *, readme: Path = README, details: Path = DETAILS
) -> None:
    """Between the markers: the summary table in `readme`, every figure in `details`.

    Both files are checked before either is written, so a missing marker changes nothing."""
    texts = {path: path.read_text() for path in (readme, details)}
    for path, text in texts.items():
        if START not in text or END not in text:
            raise SystemExit(f"{path.name} has no {START} … {END} section to update")
    machine = (
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {', '.join(r.name for r in results)}"
    )
    tables = {
        readme: f"{render_summary(results)}\nEvery figure of that run: {DETAILS_LINK}.\n",
        details: render_markdown(results),
    }
    for path, text in texts.items():
        before, after = text.split(START, 1)[0], text.split(END, 1)[1]
        path.write_text(f"{before}{START}\nLatest run ({machine}):\n\n{tables[path]}{END}{after}")


if __name__ == "__main__":
    sys.exit(main())
