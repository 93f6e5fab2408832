"""``slotctl doctor`` and ``slotctl demo`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

NOW = "2027-03-20T12:00:00+00:00"


def _booked(cli: Any, monkeypatch: Any) -> str:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    assert (
        cli("exchanges", "add", "downtown", "--name", "D", "--timezone", "Europe/Berlin").exit_code
        == 0
    )
    assert cli("hours", "set", "downtown", "mon 09:00-10:00").exit_code == 0
    assert (
        cli(
            "slots",
            "generate",
            "downtown",
            "--from",
            "2027-03-22",
            "--days",
            "1",
            "--capacity",
            "3",
        ).exit_code
        == 0
    )
    made = cli(
        "bookings",
        "create",
        "downtown@2027-03-22T09:00",
        "--name",
        "Ann",
        "--email",
        "ann@example.com",
        "-f",
        "json",
    )
    assert made.exit_code == 0, made.stderr
    return str(made.json()["slot"])


def test_doctor_is_quiet_when_all_holds(cli: Any, db: Any, monkeypatch: Any) -> None:
    _booked(cli, monkeypatch)
    result = cli("doctor")
    assert result.exit_code == 0
    assert result.stdout == "All invariants hold.\n"
    assert cli("doctor", "--format", "json").json() == []


def test_doctor_reports_and_repairs_a_corrupted_counter(
    cli: Any, db: Any, monkeypatch: Any
) -> None:
    slot = _booked(cli, monkeypatch)
    db.execute("UPDATE time_slots SET current_bookings = 3 WHERE uuid = :u", u=slot)
    result = cli("doctor", "--format", "json")
    assert result.exit_code == 4
    assert result.json() == [
        {
            "check": "counter",
            "record": slot,
            "exchange": "downtown",
            "detail": "current_bookings is 3 but 1 booking holds seats",
        }
    ]
    assert result.stderr.startswith('{"error"')
    repaired = cli("doctor", "--repair")
    assert repaired.exit_code == 0, repaired.stdout + repaired.stderr
    assert "Repaired 1 slot counter." in repaired.stderr
    assert db.scalar("SELECT current_bookings FROM time_slots WHERE uuid = :u", u=slot) == 1


def test_doctor_finds_stale_pending_and_overbooking(cli: Any, db: Any, monkeypatch: Any) -> None:
    slot = _booked(cli, monkeypatch)
    db.execute("UPDATE time_slots SET max_capacity = 1 WHERE uuid = :u", u=slot)
    bob = cli(
        "bookings",
        "create",
        "downtown@2027-03-22T09:30",
        "--name",
        "Bob",
        "--email",
        "bob@example.com",
        "-f",
        "json",
    )
    assert bob.exit_code == 0
    # an overbooking only a broken writer could make: move Bob's row onto Ann's full slot
    db.execute(
        "UPDATE bookings SET time_slot_id = (SELECT id FROM time_slots WHERE uuid = :u) WHERE reference = :r",
        u=slot,
        r=bob.json()["reference"],
    )
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-22T09:00:00+00:00")  # both slots have started
    checks = {v["check"] for v in cli("doctor", "-f", "json").json()}
    assert {"capacity", "counter", "stale_pending"} <= checks
    repaired = cli("doctor", "--repair", "-f", "json")
    assert repaired.exit_code == 4  # the overbooking needs an operator; the counters are fixed
    assert "capacity" in {v["check"] for v in repaired.json()}


def test_demo_fills_a_fresh_database_and_is_deterministic(
    cli: Any, db: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    first = cli("demo", "--format", "json")
    assert first.exit_code == 0, first.stderr
    summary = first.json()
    assert [e["slug"] for e in summary["exchanges"]] == ["downtown", "harbour", "airport"]
    assert len({e["timezone"] for e in summary["exchanges"]}) == 3
    assert summary["slots"] > 1000
    assert all(n > 0 for n in summary["bookings"].values()), summary["bookings"]
    assert 200 <= sum(summary["bookings"].values()) <= 400
    assert db.scalar("SELECT count(*) FROM closures") >= 1
    assert cli("doctor").exit_code == 0
    snapshot = db.query("SELECT status, customer_email FROM bookings ORDER BY customer_email")
    refused = cli("demo")
    assert refused.exit_code == 4
    assert "--reset" in refused.stderr
    again = cli("demo", "--reset", "--yes", "--format", "json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["bookings"] == summary["bookings"]
    assert (
        db.query("SELECT status, customer_email FROM bookings ORDER BY customer_email") == snapshot
    )


def test_demo_shows_a_calendar_and_the_figures(cli: Any, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    result = cli("demo")
    assert result.exit_code == 0
    assert "downtown — 2027-03" in result.stdout
    assert "Bookings by status" in result.stdout
    assert "completed" in result.stdout
    assert "Stats for all exchanges" in result.stdout
    assert "Utilisation by weekday and local hour" in result.stdout
    assert "By exchange" in result.stdout


def test_demo_reset_needs_yes_off_a_terminal(cli: Any, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    assert cli("demo", "-f", "json").exit_code == 0
    before = db.scalar("SELECT count(*) FROM bookings")
    result = cli("demo", "--reset")
    assert result.exit_code == 2
    assert db.scalar("SELECT count(*) FROM bookings") == before
