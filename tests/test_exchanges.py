"""``slotctl exchanges`` on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

EXCHANGE_KEYS = [
    "uuid",
    "slug",
    "name",
    "timezone",
    "is_active",
    "min_notice_minutes",
    "max_advance_days",
    "checkin_early_minutes",
    "late_after_minutes",
    "created_at",
    "updated_at",
]


def add(cli: Any, slug: str = "downtown", *extra: str) -> Any:
    return cli(
        "exchanges",
        "add",
        slug,
        "--name",
        slug.title(),
        "--timezone",
        "Europe/Berlin",
        *extra,
        "--format",
        "json",
    )


def test_add_prints_the_exchange_with_contract_fields(cli: Any, db: Any) -> None:
    result = add(cli, "downtown", "--min-notice", "1h30m", "--max-advance", "60d")
    assert result.exit_code == 0, result.stderr
    record = result.json()
    assert list(record) == EXCHANGE_KEYS
    assert record["slug"] == "downtown"
    assert record["timezone"] == "Europe/Berlin"
    assert record["is_active"] is True
    assert record["min_notice_minutes"] == 90
    assert record["max_advance_days"] == 60
    assert record["created_at"].endswith("+00:00")
    assert db.query("SELECT slug, min_notice_minutes, max_advance_days FROM exchanges") == [
        ("downtown", 90, 60)
    ]


def test_default_timezone_comes_from_settings(cli: Any, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_DEFAULT_TIMEZONE", "America/New_York")
    result = cli("exchanges", "add", "uptown", "--name", "Uptown", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--timezone", "Mars/Base"], 2, "unknown timezone 'Mars/Base'"),
        (["--timezone", "Europe/Berlin", "--min-notice", "soon"], 2, "invalid duration"),
        (["--timezone", "Europe/Berlin", "--max-advance", "36h"], 2, "whole days"),
    ],
)
def test_add_refuses_bad_values_and_writes_nothing(
    cli: Any, db: Any, args: list[str], code: int, needle: str
) -> None:
    result = cli("exchanges", "add", "downtown", "--name", "Downtown", *args)
    assert result.exit_code == code
    assert result.stderr.startswith("Error: ")
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert db.scalar("SELECT count(*) FROM exchanges") == 0


def test_bad_slug_is_a_usage_error(cli: Any, db: Any) -> None:
    result = cli("exchanges", "add", "Down Town!", "--name", "x")
    assert result.exit_code == 2
    assert "invalid slug" in result.stderr


def test_duplicate_slug_conflicts(cli: Any, db: Any) -> None:
    assert add(cli).exit_code == 0
    result = add(cli)
    assert result.exit_code == 4
    assert "already exists" in result.stderr
    assert db.scalar("SELECT count(*) FROM exchanges") == 1


def test_list_is_sorted_by_slug_in_every_format(cli: Any, db: Any) -> None:
    for slug in ("zeta", "alpha", "mid"):
        assert add(cli, slug).exit_code == 0
    listed = cli("exchanges", "list", "--format", "json")
    assert [e["slug"] for e in listed.json()] == ["alpha", "mid", "zeta"]
    csv_out = cli("exchanges", "list", "--format", "csv").stdout.splitlines()
    assert csv_out[0] == ",".join(EXCHANGE_KEYS)
    assert [line.split(",")[1] for line in csv_out[1:]] == ["alpha", "mid", "zeta"]
    table = cli("exchanges", "list").stdout
    assert table.index("alpha") < table.index("mid") < table.index("zeta")


def test_empty_list_is_an_empty_json_list(cli: Any, db: Any) -> None:
    result = cli("exchanges", "list", "--format", "json")
    assert result.exit_code == 0
    assert result.json() == []


def test_format_from_environment(cli: Any, db: Any, monkeypatch: Any) -> None:
    add(cli)
    monkeypatch.setenv("SLOTCTL_FORMAT", "json")
    assert cli("exchanges", "show", "downtown").json()["slug"] == "downtown"


def test_show_unknown_slug_exits_3(cli: Any, db: Any) -> None:
    result = cli("exchanges", "show", "nowhere")
    assert result.exit_code == 3
    assert result.stderr == "Error: no exchange 'nowhere' (see `slotctl exchanges list`)\n"


def test_show_unknown_slug_json_error(cli: Any, db: Any) -> None:
    result = cli("exchanges", "show", "nowhere", "--format", "json")
    assert result.exit_code == 3
    assert result.stdout == ""
    import json

    assert json.loads(result.stderr) == {
        "error": {
            "code": "not_found",
            "message": "no exchange 'nowhere' (see `slotctl exchanges list`)",
        }
    }


def test_update_changes_only_given_fields(cli: Any, db: Any) -> None:
    add(cli, "downtown", "--max-advance", "30d")
    result = cli(
        "exchanges",
        "update",
        "downtown",
        "--name",
        "Main Street",
        "--min-notice",
        "2h",
        "--inactive",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    record = result.json()
    assert record["name"] == "Main Street"
    assert record["min_notice_minutes"] == 120
    assert record["max_advance_days"] == 30
    assert record["is_active"] is False
    cleared = cli(
        "exchanges", "update", "downtown", "--max-advance", "none", "--active", "-f", "json"
    )
    assert cleared.json()["max_advance_days"] is None
    assert cleared.json()["is_active"] is True


def test_update_timezone_validated(cli: Any, db: Any) -> None:
    add(cli)
    result = cli("exchanges", "update", "downtown", "--timezone", "Nowhere/City")
    assert result.exit_code == 2
    assert db.scalar("SELECT timezone FROM exchanges") == "Europe/Berlin"
    ok = cli("exchanges", "update", "downtown", "--timezone", "Asia/Tokyo", "-f", "json")
    assert ok.json()["timezone"] == "Asia/Tokyo"


def test_update_unknown_exits_3(cli: Any, db: Any) -> None:
    assert cli("exchanges", "update", "ghost", "--name", "x").exit_code == 3


def test_remove_needs_yes_off_a_terminal(cli: Any, db: Any) -> None:
    add(cli)
    result = cli("exchanges", "remove", "downtown")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert db.scalar("SELECT count(*) FROM exchanges") == 1


def test_remove_cascades_to_hours_and_closures(cli: Any, db: Any) -> None:
    add(cli)
    assert cli("hours", "add", "downtown", "mon-fri", "09:00-17:00").exit_code == 0
    assert cli("hours", "closures", "add", "downtown", "2027-01-01", "--reason", "x").exit_code == 0
    result = cli("exchanges", "remove", "downtown", "--yes", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["slug"] == "downtown"
    assert db.scalar("SELECT count(*) FROM exchanges") == 0
    assert db.scalar("SELECT count(*) FROM business_hours") == 0
    assert db.scalar("SELECT count(*) FROM closures") == 0


def _insert_slot_with_booking(db: Any, starts: str, status: str) -> None:
    exchange_id = db.scalar("SELECT id FROM exchanges WHERE slug = 'downtown'")
    now = "2026-01-01 00:00:00+00:00"
    db.execute(
        "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity, "
        "current_bookings, is_available, created_at, updated_at) VALUES "
        "(:u, :e, :d, :s, :t, 2, 1, true, :n, :n)",
        u="00000000-0000-4000-8000-000000000001",
        e=exchange_id,
        d=starts[:10],
        s=f"{starts}:00+00:00" if db.kind == "postgres" else f"{starts}:00",
        t=f"{starts[:11]}23:00:00+00:00" if db.kind == "postgres" else f"{starts[:11]}23:00:00",
        n=now if db.kind == "postgres" else now[:19],
    )
    slot_id = db.scalar("SELECT id FROM time_slots")
    db.execute(
        "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name, "
        "customer_email, status, created_at, updated_at) VALUES "
        "(:u, 'BK-TEST01', :s, :e, 'Ann', 'ann@example.com', :st, :n, :n)",
        u="00000000-0000-4000-8000-000000000002",
        s=slot_id,
        e=exchange_id,
        st=status,
        n=now if db.kind == "postgres" else now[:19],
    )


def test_remove_refused_with_future_seat_holding_bookings(
    cli: Any, db: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-01-01T00:00:00+00:00")
    add(cli)
    _insert_slot_with_booking(db, "2027-01-05 09:00", "confirmed")
    before = db.snapshot()
    result = cli("exchanges", "remove", "downtown", "--yes")
    assert result.exit_code == 4
    assert "1 future booking holding seats" in result.stderr
    assert db.snapshot() == before


def test_remove_allowed_when_bookings_are_past(cli: Any, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-02-01T00:00:00+00:00")
    add(cli)
    _insert_slot_with_booking(db, "2027-01-05 09:00", "completed")
    result = cli("exchanges", "remove", "downtown", "--yes")
    assert result.exit_code == 0, result.stderr
    assert db.scalar("SELECT count(*) FROM bookings") == 0
    assert db.scalar("SELECT count(*) FROM time_slots") == 0


def test_timezone_change_refused_with_future_slots(cli: Any, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-01-01T00:00:00+00:00")
    add(cli)
    _insert_slot_with_booking(db, "2027-01-05 09:00", "cancelled")
    result = cli("exchanges", "update", "downtown", "--timezone", "Asia/Tokyo")
    assert result.exit_code == 4
    assert "future slot" in result.stderr
    assert db.scalar("SELECT timezone FROM exchanges") == "Europe/Berlin"
