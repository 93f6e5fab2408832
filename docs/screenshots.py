"""Render terminal screenshots of real slotctl commands as SVG files in ``docs/img/``.

Run from the repository root (needs nothing but slotctl's own dependencies)::

    python docs/screenshots.py

It builds the demo (``slotctl demo``) in a temporary SQLite database with the
clock frozen at ``SLOTCTL_NOW=2027-03-10T10:00:00+00:00``, runs each command
below as a fresh process with colour forced on and a 100-column terminal, and
records the ANSI output with Rich's SVG export. Nothing outside the temporary
directory is read or written except the SVG files; the user's own database and
configuration are never touched.

``img/desk.svg`` is ``slotctl desk downtown --counter 2`` on the demo, drawn by
Textual itself (its own SVG screenshot of the app run headless at 120×32).

``img/workbook.png`` is the demo's bookings exported as a workbook
(``slotctl bookings export --exchange downtown -o bookings.xlsx``) and printed by
LibreOffice Calc itself (``soffice --headless --convert-to pdf``; the sheet's print
setup is slotctl's: landscape, one page wide), its top left rendered with
``pdftoppm`` (Debian's poppler-utils). Without those two programs it is skipped.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.text import Text

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "img"
WIDTH = 100
NOW = "2027-03-10T10:00:00+00:00"

# (file name, arguments after `slotctl`)
SHOTS: list[tuple[str, list[str]]] = [
    ("calendar-month.svg", ["slots", "calendar", "downtown", "--month", "2027-03"]),
    ("calendar-week.svg", ["slots", "calendar", "downtown", "--week", "2027-03-22"]),
    ("stats.svg", ["stats"]),
]


def environment(workdir: Path) -> dict[str, str]:
    """A clean environment: private data and config directories, frozen clock, colour on."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SLOTCTL_") and name not in ("NO_COLOR", "COLUMNS", "LINES")
    }
    env.update(
        HOME=str(workdir),
        XDG_DATA_HOME=str(workdir / "data"),
        XDG_CONFIG_HOME=str(workdir / "config"),
        SLOTCTL_NOW=NOW,
        FORCE_COLOR="1",
        TERM="xterm-256color",
        COLUMNS=str(WIDTH),
        LINES="50",
    )
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run ``slotctl ARGS`` and return what it printed (stdout, then stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "slotctl", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"`slotctl {' '.join(args)}` exited {result.returncode}:\n{result.stderr}")
    return result.stdout + result.stderr


def to_svg(ansi: str, title: str) -> str:
    console = Console(
        record=True,
        width=WIDTH,
        force_terminal=True,
        color_system="truecolor",
        file=io.StringIO(),
        legacy_windows=False,
    )
    console.print(Text.from_ansi(ansi.rstrip("\n")), soft_wrap=True)
    return console.export_svg(title=title)


def workbook(env: dict[str, str], workdir: Path) -> None:
    """The bookings sheet as LibreOffice Calc prints it: ``img/workbook.png``."""
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    if soffice is None or pdftoppm is None:
        print("Skipped img/workbook.png: needs soffice (LibreOffice) and pdftoppm (poppler)")
        return
    book = workdir / "bookings.xlsx"
    run(["bookings", "export", "--exchange", "downtown", "-o", str(book)], env, workdir)
    profile = f"-env:UserInstallation=file://{workdir / 'lo-profile'}"
    subprocess.run(
        [
            soffice,
            profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(workdir),
            str(book),
        ],
        check=True,
        capture_output=True,
    )
    target = IMAGES / "workbook"  # pdftoppm adds .png; the crop: the sheet's top left
    crop = ["-x", "230", "-y", "250", "-W", "2050", "-H", "520"]
    subprocess.run(
        [pdftoppm, "-png", "-r", "330", "-f", "1", "-l", "1", "-singlefile", *crop,
         str(workdir / "bookings.pdf"), str(target)],
        check=True,
    )  # fmt: skip
    print(f"Wrote {target}.png")


DESK_SIZE = (120, 32)


def desk(env: dict[str, str]) -> None:
    """The front-desk screen on the demo, as Textual draws it: ``img/desk.svg``."""
    script = f"""
import asyncio, os
from slotctl.config import load_settings
from slotctl.db.engine import make_engine
from slotctl.desk.app import DeskApp

async def main():
    engine = make_engine(load_settings(None).settings.database_url)
    app = DeskApp(engine, "downtown", "2", "demo", refresh_seconds=60)
    async with app.run_test(size={DESK_SIZE!r}) as pilot:
        await pilot.pause()
        app.save_screenshot(filename="desk.svg", path={str(IMAGES)!r})
    engine.dispose()

asyncio.run(main())
"""
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    print(f"Wrote {IMAGES / 'desk.svg'}")


def main() -> int:
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="slotctl-shots-") as name:
        workdir = Path(name)
        env = environment(workdir)
        run(["demo"], env, workdir)
        for filename, args in SHOTS:
            title = "$ slotctl " + " ".join(args)
            svg = to_svg(run(args, env, workdir), title)
            (IMAGES / filename).write_text(svg, encoding="utf-8", newline="\n")
            print(f"Wrote {IMAGES / filename}")
        desk(env)
        workbook(env, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
