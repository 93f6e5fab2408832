"""Start-up time of the CLI against a bare ``python -c "import typer"``, in the same run.

    python bench/startup.py [--runs 21] [--update-readme]

Target (issue 2): ``slotctl --help`` median wall time <= 2x the bare Typer import.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_ms, update_readme, wall_times

TARGET = 2.0


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
    home = tempfile.mkdtemp()
    env = {**os.environ, "HOME": home, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home}

    cases = {
        'python -c "import typer" (baseline)': [sys.executable, "-c", "import typer"],
        "slotctl --help": [slotctl, "--help"],
        "slotctl --version": [slotctl, "--version"],
        "slotctl hours add --help": [slotctl, "hours", "add", "--help"],
    }
    medians = {name: median_ms(wall_times(cmd, args.runs, env)) for name, cmd in cases.items()}
    baseline = medians['python -c "import typer" (baseline)']
    lines = [
        f"Measured {args.runs} runs each (medians), Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores.",
        "",
        "| command | median wall time | ratio to baseline | target |",
        "|---|---:|---:|---|",
    ]
    for name, value in medians.items():
        target = f"<= {TARGET}x" if name == "slotctl --help" else ""
        lines.append(f"| `{name}` | {value:.1f} ms | {value / baseline:.2f}x | {target} |")
    table = "\n".join(lines)
    print(table)
    ratio = medians["slotctl --help"] / baseline
    print(f"\nslotctl --help: {ratio:.2f}x the bare Typer import (target <= {TARGET}x)")
    if args.update_readme:
        update_readme("startup", table)
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
