"""``slotctl desk``, driven headless by Textual's own harness (``App.run_test`` and its
pilot) on SQLite and PostgreSQL: each key changes the database as its command would,
the screen shows it, other processes' changes appear by themselves, and a database
that goes away is a line on the screen, not a crash."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from slotctl.db.engine import make_engine

NOW = "2027-03-01T09:20:00+00:00"  # a Monday; London is on UTC in March before the 28th
SLUG = "downtown"


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def book(cli: Any, start: str, name: str, email: str, *extra: str) -> str:
    record = ok(
        cli(
            "bookings", "create", f"{SLUG}@2027-03-01T{start}", "--name", name,
            "--email", email, *extra, "-f", "json",
        )
    ).json()  # fmt: skip
    return str(record["reference"])


@pytest.fixture
def morning(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An exchange open 09:00-12:00 with 30-minute slots of two seats, and bookings."""
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-01T07:00:00+00:00")
    ok(cli("exchanges", "add", SLUG, "--name", "Downtown", "--timezone", "Europe/London"))
    ok(cli("hours", "set", SLUG, "mon-fri 09:00-12:00"))
    ok(
        cli(
            "slots",
            "generate",
            SLUG,
            "--from",
            "2027-03-01",
            "--to",
            "2027-03-01",
            "--capacity",
            "2",
        )
    )
    refs = {
        "ann": book(cli, "09:00", "Ann Lee", "ann@example.com", "--confirm"),
        "eve": book(cli, "09:30", "Eve Moss", "eve@example.com"),
        "ian": book(cli, "11:00", "Ian Wu", "ian@example.com", "--confirm"),
    }
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    return refs


def run_desk(
    db: Any,
    script: Callable[[Any, Any], Awaitable[None]],
    *,
    counter: str = "2",
    refresh: float = 2.0,
    size: tuple[int, int] = (120, 40),
    busy_timeout: float = 10.0,
) -> Any:
    """Run the desk headless, hand its pilot to ``script``; the app afterwards."""
    from slotctl.desk.app import DeskApp

    engine = make_engine(db.url, busy_timeout)
    app = DeskApp(engine, SLUG, counter, "desk-tester", refresh)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(app, pilot)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
    return app


def rows(app: Any, table: str) -> list[list[str]]:
    from textual.widgets import DataTable

    widget = app.query_one(f"#{table}", DataTable)
    return [[str(cell) for cell in widget.get_row_at(i)] for i in range(widget.row_count)]


def notes(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def select_row(app: Any, pilot: Any, text: str) -> None:
    """Put the roster's cursor on the first row that shows ``text``."""
    from textual.widgets import DataTable

    roster = app.query_one("#roster", DataTable)
    for index, row in enumerate(rows(app, "roster")):
        if any(text in cell for cell in row):
            roster.move_cursor(row=index)
            roster.focus()
            await pilot.pause()
            return
    raise AssertionError(f"no roster row shows {text!r}: {rows(app, 'roster')}")


async def type_text(pilot: Any, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


def status_of(db: Any, reference: str) -> str:
    return str(db.scalar("SELECT status FROM bookings WHERE reference = :r", r=reference))


# Keys -------------------------------------------------------------------------------


def test_check_in_call_and_serve_with_single_keys(db: Any, morning: dict[str, str]) -> None:
    async def script(app: Any, pilot: Any) -> None:
        await select_row(app, pilot, morning["ann"])
        await pilot.press("c")
        await pilot.pause()
        assert [r[0] for r in rows(app, "queue")] == ["A001"]
        await pilot.press("n")
        await pilot.pause()
        assert rows(app, "queue") == []
        assert rows(app, "counters") == [["2", "A001", "Ann Lee"]]
        await pilot.press("d")
        await pilot.pause()
        assert rows(app, "counters") == []

    app = run_desk(db, script)
    assert status_of(db, morning["ann"]) == "completed"
    assert db.query("SELECT status, counter FROM tickets") == [("served", "2")]
    actors = {
        a
        for (a,) in db.query(
            "SELECT DISTINCT actor FROM booking_events WHERE note IS NULL OR note <> 'created'"
        )
    }
    assert actors == {"desk-tester"}
    assert any("A001 Ann Lee → counter 2" in n for n in notes(app))


def test_walk_in_form_requeue_and_no_show(db: Any, morning: dict[str, str]) -> None:
    async def script(app: Any, pilot: Any) -> None:
        await pilot.press("w")
        await pilot.pause()
        await type_text(pilot, "Bo Chen")
        await pilot.press("enter", "enter", "enter")  # name, phone, email: the last submits
        await pilot.pause()
        assert [r[:2] for r in rows(app, "queue")] == [["W001", "Bo Chen"]]
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("r")  # back in line, keeping its place
        await pilot.pause()
        assert [r[0] for r in rows(app, "queue")] == ["W001"]
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("x")  # asks first
        await pilot.pause()
        await pilot.press("n")  # no: nothing changes
        await pilot.pause()
        assert db.scalar("SELECT status FROM tickets") == "called"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()

    run_desk(db, script)
    assert db.query("SELECT kind, customer_name, status FROM tickets") == [
        ("walkin", "Bo Chen", "no_show")
    ]


def test_book_move_and_cancel_from_the_roster(cli: Any, db: Any, morning: dict[str, str]) -> None:
    async def script(app: Any, pilot: Any) -> None:
        await select_row(app, pilot, "2 free")  # the first slot with free seats: 10:00
        await pilot.press("b")
        await pilot.pause()
        await type_text(pilot, "Cy Ng")
        await pilot.press("enter")
        await type_text(pilot, "cy@example.com")
        await pilot.press("enter", "enter")
        await pilot.pause()
        await select_row(app, pilot, morning["ian"])
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("enter")  # the first free slot offered
        await pilot.pause()
        await select_row(app, pilot, morning["eve"])
        await pilot.press("k")
        await pilot.pause()
        await type_text(pilot, "called in sick")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()

    app = run_desk(db, script)
    (cy,) = ok(cli("bookings", "list", "--customer", "cy@example.com", "-f", "json")).json()
    assert (cy["customer_name"], cy["status"], cy["starts_at"]) == (
        "Cy Ng",
        "pending",
        "2027-03-01T10:00:00+00:00",
    )
    assert (
        db.scalar("SELECT cancellation_reason FROM bookings WHERE reference = :r", r=morning["eve"])
        == "called in sick"
    )
    moved = db.scalar(
        "SELECT note FROM booking_events e JOIN bookings b ON b.id = e.booking_id"
        " WHERE b.reference = :r AND note LIKE 'moved%'",
        r=morning["ian"],
    )
    assert moved is not None
    assert any("cancelled" in n for n in notes(app))


def test_find_help_and_quit(db: Any, morning: dict[str, str]) -> None:
    async def script(app: Any, pilot: Any) -> None:
        from textual.widgets import DataTable

        await pilot.press("slash")
        await pilot.pause()
        await type_text(pilot, "eve")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("enter")  # the one found: the roster's cursor goes to it
        await pilot.pause()
        roster = app.query_one("#roster", DataTable)
        assert morning["eve"] in [str(c) for c in roster.get_row_at(roster.cursor_row)]
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()

    app = run_desk(db, script)
    assert app.return_code == 0


def test_a_refusal_is_a_notification_and_the_desk_goes_on(db: Any, morning: dict[str, str]) -> None:
    async def script(app: Any, pilot: Any) -> None:
        await select_row(app, pilot, morning["ian"])  # 11:00: check-in opens at 10:30
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("n")  # nobody waits
        await pilot.pause()
        await pilot.press("d")  # nobody called to this counter
        await pilot.pause()
        assert app.is_running

    app = run_desk(db, script)
    joined = "\n".join(notes(app))
    assert "too early to check in" in joined
    assert "nobody waits at downtown" in joined
    assert "nobody is called to counter 2" in joined
    assert status_of(db, morning["ian"]) == "confirmed"


# Live --------------------------------------------------------------------------------


def slotctl(db: Any, *args: str) -> None:
    env = {"SLOTCTL_DATABASE_URL": db.url, "SLOTCTL_NOW": NOW, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "slotctl", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_what_another_process_does_appears_within_the_refresh(
    db: Any, morning: dict[str, str]
) -> None:
    async def script(app: Any, pilot: Any) -> None:
        assert rows(app, "queue") == []
        await asyncio.to_thread(slotctl, db, "queue", "walkin", SLUG, "--name", "Zed Ray")
        await asyncio.to_thread(slotctl, db, "bookings", "checkin", morning["eve"])
        await asyncio.to_thread(slotctl, db, "bookings", "cancel", morning["ian"])
        await pilot.pause(0.8)  # more than one refresh
        assert [r[1] for r in rows(app, "queue")] == ["Zed Ray", "Eve Moss"]
        statuses = {r[1]: r[3] for r in rows(app, "roster")}
        assert statuses[morning["eve"]] == "arrived"
        assert statuses[morning["ian"]] == "cancelled"

    run_desk(db, script, refresh=0.5)


def test_a_locked_sqlite_file_shows_and_the_desk_recovers(
    cli: Any, db: Any, morning: dict[str, str]
) -> None:
    if db.kind != "sqlite":
        pytest.skip("locking the file is SQLite's; PostgreSQL: the next test")
    path = Path(db.url.removeprefix("sqlite:///"))
    ok(cli("queue", "walkin", SLUG, "--name", "Al Day"))

    async def script(app: Any, pilot: Any) -> None:
        holder = sqlite3.connect(path, timeout=5, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another writer holds the lock
        await pilot.press("n")
        await pilot.pause()
        assert app.outages == 1  # shown on the status line (reads clear it: WAL readers go on)
        assert app.is_running
        holder.execute("ROLLBACK")
        holder.close()
        await pilot.press("n")
        await pilot.pause()
        assert app.offline is None

    app = run_desk(db, script, refresh=0.5, busy_timeout=0.2)
    assert any("not done" in n and "locked" in n for n in notes(app))
    assert db.query("SELECT customer_name, status FROM tickets") == [("Al Day", "called")]


@pytest.fixture
def private_postgres() -> Any:
    """A PostgreSQL server of the test's own (the shared one serves the other tests),
    to stop and start while the desk runs."""
    import os
    import shutil
    import socket

    bin_dir = Path("/usr/lib/postgresql/15/bin")
    if not (bin_dir / "initdb").exists() or shutil.which("runuser") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true needs PostgreSQL's initdb to stop a server under the desk")
        pytest.skip("PostgreSQL 15's initdb is not installed here")
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="slotctl-pg-"))  # outside pytest's private tmp
    home.chmod(0o755)
    data = home / "data"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def as_postgres(*command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True
        )

    as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k /tmp -c listen_addresses=127.0.0.1"
    start = (str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start")
    stop = (str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    as_postgres(*start, "-l", str(data / "log"))

    class Server:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

        def stop(self) -> None:
            as_postgres(*stop)

        def start(self) -> None:
            as_postgres(*start, "-l", str(data / "log"))

    try:
        yield Server()
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", *stop], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_a_stopped_postgres_shows_and_the_desk_recovers(
    private_postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import Database, invoke

    server = Database("postgres", private_postgres.url)
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", server.url)
    ok(invoke("db", "upgrade"))
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(invoke("exchanges", "add", SLUG, "--name", "Downtown", "--timezone", "Europe/London"))
    ok(invoke("queue", "walkin", SLUG, "--name", "Pat Roe"))

    async def script(app: Any, pilot: Any) -> None:
        await asyncio.to_thread(private_postgres.stop)
        await pilot.pause(1.2)
        assert app.outages == 1
        assert "reconnecting" in str(app.query_one("#status").render())
        await pilot.press("n")  # a change while it is down: a notification, no crash
        await pilot.pause()
        assert app.is_running
        await asyncio.to_thread(private_postgres.start)
        await pilot.pause(1.2)
        assert app.offline is None  # reconnected by itself
        await pilot.press("n")
        await pilot.pause()

    app = run_desk(server, script, refresh=0.5)
    assert any("not done" in n for n in notes(app))
    assert server.query("SELECT customer_name, status FROM tickets") == [("Pat Roe", "called")]


def test_waiting_times_tick_and_the_day_rolls_over_at_local_midnight(
    cli: Any, db: Any, morning: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli("queue", "walkin", SLUG, "--name", "Night Owl"))

    async def script(app: Any, pilot: Any) -> None:
        assert rows(app, "queue")[0][3] == "0m"
        monkeypatch.setenv("SLOTCTL_NOW", "2027-03-01T09:27:00+00:00")
        await pilot.pause(0.8)
        assert rows(app, "queue")[0][3] == "7m"  # the wait ticks without a key
        assert app.title.endswith("2027-03-01")
        monkeypatch.setenv("SLOTCTL_NOW", "2027-03-02T00:00:30+00:00")  # London midnight
        await pilot.pause(0.8)
        assert app.title.endswith("2027-03-02")
        assert rows(app, "queue") == []  # yesterday's queue is not today's
        assert morning["ann"] not in str(rows(app, "roster"))

    run_desk(db, script, refresh=0.5)
