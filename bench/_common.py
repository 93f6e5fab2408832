"""Helpers shared by the benchmarks: timing, medians, and the README table."""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

README = Path(__file__).with_name("README.md")


def interleaved_wall_times(
    cases: Mapping[str, Callable[[int], Sequence[str]]],
    runs: int,
    env: dict[str, str] | None = None,
) -> dict[str, list[float]]:
    """Wall times in seconds of ``runs`` fresh runs of each case, taken in turns.

    A case maps the run number (0 is the warm-up) to its command line, so a run
    can vary its arguments. Each round runs every case once, so a burst of load
    on the machine lands on all of them alike and the ratios stay fair.
    """
    for case in cases.values():
        subprocess.run(case(0), check=True, capture_output=True, env=env)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for run in range(1, runs + 1):
        for name, case in cases.items():
            command = case(run)
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            times[name].append(time.perf_counter() - start)
    return times


def median_ms(times: Sequence[float]) -> float:
    return statistics.median(times) * 1000


def update_readme(section: str, table: str) -> None:
    """Replace the block between ``<!-- bench:SECTION -->`` markers in bench/README.md."""
    text = README.read_text(encoding="utf-8")
    start, end = f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    block = f"{start}\n{table.strip()}\n{end}"
    if not pattern.search(text):
        raise SystemExit(f"bench/README.md has no {start} ... {end} block")
    README.write_text(pattern.sub(lambda _: block, text), encoding="utf-8")
