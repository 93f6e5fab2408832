"""Helpers shared by the benchmarks: timing, medians, and the README table."""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

README = Path(__file__).with_name("README.md")


def wall_times(command: Sequence[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall time in seconds of ``runs`` fresh runs of ``command`` (one warm-up first)."""
    subprocess.run(command, check=True, capture_output=True, env=env)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
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
