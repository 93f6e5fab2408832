"""Start-up time of the CLI against bare imports of its libraries, in the same run.

    python bench/startup.py [--runs 21] [--update-readme]

Targets: ``slotctl --help`` median wall time <= 2x ``python -c "import typer"``
(issue 2), and ``slotctl exchanges list`` on an embedded SQLite database
<= 1.25x ``python -c "import typer, sqlalchemy.orm, pydantic_settings"``: a
plain command costs little more than importing the libraries it needs.

Every run is a fresh process; the cases take turns (one run of each per round,
after a warm-up of each), so load on the machine falls on all alike. The
database commands run on a prepared SQLite database in a temporary directory
(an exchange, daily hours, 30 days of generated slots, all made with slotctl
itself); each ``bookings create`` books another slot with another email, so
none is refused.

slotctl's ``main()`` freezes the garbage collector when the command is done, so
the interpreter's last collection skips the heap; the bare imports do not. A
third baseline, the same imports followed by ``gc.freeze()``, exits the same
way, and the ratio of ``exchanges list`` to it is written under the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved_wall_times, median_ms, update_readme

HELP_TARGET = 2.0
COMMAND_TARGET = 1.25
SLUG = "bench"

LIBRARIES = "import typer, sqlalchemy.orm, pydantic_settings"
HELP_BASELINE = 'python -c "import typer" (baseline)'
COMMAND_BASELINE = f'python -c "{LIBRARIES}" (baseline)'
FROZEN_BASELINE = f'python -c "{LIBRARIES}; import gc; gc.freeze()"'
HELP = "slotctl --help"
LIST = "slotctl exchanges list"
AVAILABLE = f"slotctl slots available {SLUG} --from today --to +7d"
BOOK = "slotctl bookings create SLOT --name ... --email ..."


def prepare(slotctl: str, env: dict[str, str]) -> list[str]:
    """Make the database with slotctl's own commands; the uuids of its bookable slots."""

    def run(*args: str) -> str:
        done = subprocess.run([slotctl, *args], check=True, capture_output=True, text=True, env=env)
        return done.stdout

    run("db", "upgrade")
    run("exchanges", "add", SLUG, "--name", "Bench", "--timezone", "Europe/Berlin")
    run("hours", "add", SLUG, "daily", "08:00-20:00")
    run("slots", "generate", SLUG)
    slots = json.loads(run("slots", "available", SLUG, "--limit", "1000", "--format", "json"))
    return [slot["uuid"] for slot in slots]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()

    slotctl = shutil.which("slotctl", path=str(Path(sys.executable).parent)) or shutil.which(
        "slotctl"
    )
    if slotctl is None:
        raise SystemExit("slotctl is not installed next to this Python (pip install .)")
    home = tempfile.mkdtemp(prefix="slotctl-startup-")
    env = {**os.environ, "HOME": home, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home}
    # The warm-up writes slotctl's bytecode, as an install does.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in [name for name in env if name.startswith("SLOTCTL_")]:
        del env[name]
    env["SLOTCTL_DATABASE_URL"] = f"sqlite:///{Path(home) / 'bench.db'}"
    slots = prepare(slotctl, env)
    if len(slots) < args.runs + 1:
        raise SystemExit(f"only {len(slots)} bookable slots for {args.runs + 1} bookings")

    def fixed(*command: str) -> Callable[[int], Sequence[str]]:
        return lambda _run: command

    def book(run: int) -> Sequence[str]:
        email = f"bench{run}@example.com"
        return [slotctl, "bookings", "create", slots[run], "--name", "Bench", "--email", email]

    cases = {
        HELP_BASELINE: fixed(sys.executable, "-c", "import typer"),
        HELP: fixed(slotctl, "--help"),
        "slotctl --version": fixed(slotctl, "--version"),
        "slotctl hours add --help": fixed(slotctl, "hours", "add", "--help"),
        COMMAND_BASELINE: fixed(sys.executable, "-c", LIBRARIES),
        FROZEN_BASELINE: fixed(sys.executable, "-c", f"{LIBRARIES}; import gc; gc.freeze()"),
        LIST: fixed(slotctl, "exchanges", "list"),
        AVAILABLE: fixed(slotctl, "slots", "available", SLUG, "--from", "today", "--to", "+7d"),
        BOOK: book,
    }
    times = interleaved_wall_times(cases, args.runs, env)
    medians = {name: median_ms(values) for name, values in times.items()}
    help_cases, command_cases = list(cases)[:4], list(cases)[4:]
    baselines = dict.fromkeys(help_cases, HELP_BASELINE) | dict.fromkeys(
        command_cases, COMMAND_BASELINE
    )
    targets = {HELP: f"<= {HELP_TARGET}x", LIST: f"<= {COMMAND_TARGET}x"}
    ratios = {name: medians[name] / medians[baselines[name]] for name in cases}

    lines = [
        f"Measured {args.runs} runs each, fresh processes taking turns after a warm-up "
        f"(medians), Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores. Database commands: SQLite, one exchange open daily "
        "08:00-20:00, 30 days of 30-minute slots.",
        "",
        "| command | median wall time | ratio to baseline | target |",
        "|---|---:|---:|---|",
    ]
    for name in cases:
        lines.append(
            f"| `{name}` | {medians[name]:.1f} ms | {ratios[name]:.2f}x | {targets.get(name, '')} |"
        )
    like_for_like = medians[LIST] / medians[FROZEN_BASELINE]
    lines += [
        "",
        f"`{LIST}` against the third baseline (the same imports, then `gc.freeze()`): "
        f"{like_for_like:.2f}x.",
    ]
    table = "\n".join(lines)
    print(table)
    print(f"\n{HELP}: {ratios[HELP]:.2f}x the bare Typer import (target <= {HELP_TARGET}x)")
    print(f"{LIST}: {ratios[LIST]:.2f}x the bare library imports (target <= {COMMAND_TARGET}x)")
    if args.update_readme:
        update_readme("startup", table)
    shutil.rmtree(home, ignore_errors=True)
    met = ratios[HELP] <= HELP_TARGET and ratios[LIST] <= COMMAND_TARGET
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
