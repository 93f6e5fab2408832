"""Snapshots of the desk's main screen at 80×24 and 120×40 (pytest-textual-snapshot),
on SQLite and PostgreSQL: the same morning draws the same screen. Update them after a
deliberate change with ``pytest tests/test_desk_snapshots.py --snapshot-update``."""

from __future__ import annotations

from typing import Any

import pytest

from slotctl.db.engine import make_engine
from tests.test_desk import SLUG, morning, ok  # noqa: F401  (morning: the fixture, shared)


@pytest.fixture
def busy_morning(cli: Any, db: Any, morning: dict[str, str]) -> dict[str, str]:  # noqa: F811
    """The test_desk morning with fixed references, a check-in, walk-ins and a call."""
    for index, (name, reference) in enumerate(sorted(morning.items())):
        fixed = f"BK-DESK0{index}"
        db.execute("UPDATE bookings SET reference = :f WHERE reference = :r", f=fixed, r=reference)
        morning[name] = fixed
    ok(cli("bookings", "checkin", morning["ann"]))
    ok(cli("queue", "walkin", SLUG, "--name", "Bo Chen"))
    ok(cli("queue", "walkin", SLUG, "--name", "Cy Ng"))
    ok(cli("queue", "next", SLUG, "--counter", "1"))
    return morning


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare: Any, db: Any, busy_morning: dict[str, str], size: Any) -> None:
    from slotctl.desk.app import DeskApp

    engine = make_engine(db.url)
    try:
        app = DeskApp(engine, SLUG, "2", "desk-tester", refresh_seconds=60)
        assert snap_compare(app, terminal_size=size)
    finally:
        engine.dispose()
