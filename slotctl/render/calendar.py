"""Calendars: a month grid (or a run of weeks), a week agenda and a day roster, readable
at 80 columns, and their flat CSV rows.

Every view counts the same way, seats booked of seats (``booked/capacity``), and says
so in a legend under it. On a terminal cells are coloured by how full they are;
elsewhere the same tables are drawn in plain ASCII with no colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from slotctl.records import BOOKING_FIELDS, SLOT_FIELDS
from slotctl.render import make_console
from slotctl.wording import counted

DAY_HEADERS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FILLING = 0.4  # from this share of seats booked a cell is yellow...
NEARLY_FULL = 0.75  # ...from this one red, and bold red when full
BLOCKED_MARK = "*"  # after a day's count in the month grid: some of its slots are blocked


def fullness_style(booked: int, seats: int) -> str:
    """green: mostly free, yellow: filling, red: (nearly) full."""
    if seats <= 0:
        return "dim"
    ratio = booked / seats
    if ratio >= 1:
        return "bold red"
    if ratio >= NEARLY_FULL:
        return "red"
    if ratio >= FILLING:
        return "yellow"
    return "green"


def seats_cell(booked: int, seats: int, past: bool, mark: str = "") -> Text:
    """Seats as ``booked/capacity``, coloured by :func:`fullness_style` (dim when past)."""
    return Text(f"{booked}/{seats}{mark}", style="dim" if past else fullness_style(booked, seats))


def legend(console: Console, *notes: str) -> None:
    """The line under every calendar: how cells count, and the colours when there are any."""
    parts = ["Seats: booked/capacity", *notes]
    if console.color_system and not console.no_color:
        parts.append(
            f"green: under {FILLING:.0%} booked, yellow: under {NEARLY_FULL:.0%}, "
            f"red: {NEARLY_FULL:.0%} or more (bold: full)"
        )
    if console.color_system:  # NO_COLOR keeps dim and bold
        parts.append("dim: past or closed")
    console.print("; ".join(parts) + ".", highlight=False, markup=False)


def _box(console: Console) -> box.Box:
    return box.SQUARE if console.is_terminal else box.ASCII


def month_grid(data: Mapping[str, Any]) -> None:
    """A month's days (``month``), or a run of whole weeks (``from``, ``to``), a week a row.

    A grid that straddles months names the month on its first day and on each 1st.
    """
    console = make_console()
    days = data["days"]
    period = data.get("month") or f"{data['from']} to {data['to']}"
    table = Table(
        title=f"{data['exchange']} — {period} ({data['timezone']})",
        box=_box(console),
        show_lines=True,
        title_justify="left",
    )
    for header in DAY_HEADERS:
        table.add_column(header, justify="center", width=8, no_wrap=True)
    months = {(d["date"].year, d["date"].month) for d in days}
    cells: list[Text] = [Text("") for _ in range(days[0]["weekday"])]
    for index, day in enumerate(days):
        when = day["date"]
        label = f"{when.day:2d}"
        if len(months) > 1 and (index == 0 or when.day == 1):
            label += f" {when:%b}"
        if day["slots"]:
            cell = Text(f"{label}\n", style="bold")
            mark = BLOCKED_MARK if day["blocked"] else ""
            cell.append_text(seats_cell(day["booked"], day["seats"], day["past"], mark))
        else:
            cell = Text(f"{label}\n{'closed' if day['closed'] else '-'}", style="dim")
        cells.append(cell)
    while len(cells) % 7:
        cells.append(Text(""))
    for week in range(0, len(cells), 7):
        table.add_row(*cells[week : week + 7])
    console.print(table)
    booked, seats = sum(d["booked"] for d in days), sum(d["seats"] for d in days)
    console.print(f"{booked:,} of {counted(seats, 'seat')} booked.", highlight=False)
    legend(console, f"{BLOCKED_MARK}: some slots blocked")


def week_agenda(data: Mapping[str, Any]) -> None:
    console = make_console()
    days = data["days"]
    table = Table(
        title=f"{data['exchange']} — week of {data['week_start']} ({data['timezone']})",
        box=_box(console),
        title_justify="left",
    )
    table.add_column("time", no_wrap=True)
    for index, day in enumerate(days):
        table.add_column(
            f"{DAY_HEADERS[index]} {day['date'].day:02d}", justify="center", no_wrap=True
        )
    by_time: dict[str, dict[Any, Mapping[str, Any]]] = {}
    for slot in data["slots"]:
        by_time.setdefault(slot["start"], {})[slot["date"]] = slot
    for start in sorted(by_time):
        row: list[Text] = [Text(start)]
        for day in days:
            slot = by_time[start].get(day["date"])
            if slot is None:
                row.append(Text("closed" if day["closed"] else "", style="dim"))
            elif not slot["is_available"]:
                row.append(Text("blocked", style="magenta"))
            else:
                row.append(_slot_seats(slot))
        table.add_row(*row)
    if not by_time:
        console.print(f"{data['exchange']}: no slots in the week of {data['week_start']}")
        return
    console.print(table)
    legend(console)


def day_roster(data: Mapping[str, Any]) -> None:
    console = make_console()
    if not data["slots"]:
        reason = "closed" if data["closed"] else "no slots"
        console.print(f"{data['exchange']} on {data['date']}: {reason}")
        return
    table = Table(
        title=f"{data['exchange']} — {data['date']} ({data['timezone']})",
        box=_box(console),
        title_justify="left",
    )
    table.add_column("time", no_wrap=True)
    table.add_column("seats", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("bookings")
    for slot in data["slots"]:
        names = ", ".join(
            f"{b['customer_name']} ({b['status']}, {b['reference']})"
            for b in slot["bookings"]
            if b["status"] != "cancelled"
        )
        table.add_row(
            f"{slot['start']}-{slot['end']}", _slot_seats(slot), slot["status"], names or "—"
        )
    console.print(table)
    legend(console)


def _slot_seats(slot: Mapping[str, Any]) -> Text:
    return seats_cell(slot["current_bookings"], slot["max_capacity"], slot["status"] == "past")


# CSV: flat rows, one value a cell -------------------------------------------------------

# A booking's fields in a day's rows: those its slot's columns do not already hold,
# renamed where a slot field has the same name.
_SLOT_HOLDS = ("exchange", "slot", "starts_at", "ends_at")
_RENAMED = {"uuid": "booking", "status": "booking_status"}
DAY_BOOKING_COLUMNS = tuple(_RENAMED.get(f, f) for f in BOOKING_FIELDS if f not in _SLOT_HOLDS)

Rows = tuple[list[Mapping[str, Any]], Sequence[str]]


def month_rows(data: Mapping[str, Any]) -> Rows:
    """One row per date: the exchange's slug, then the fields of a month's day."""
    days = data["days"]
    return [{"exchange": data["exchange"], **day} for day in days], ("exchange", *days[0])


def week_rows(data: Mapping[str, Any]) -> Rows:
    """One row per slot of the week: its slot record (as ``slots list``)."""
    return list(data["slots"]), SLOT_FIELDS


def day_rows(data: Mapping[str, Any]) -> Rows:
    """One row per booking of the day (cancelled ones too), after its slot's record; a
    slot without bookings has one row, its booking columns empty."""
    rows: list[Mapping[str, Any]] = []
    for slot in data["slots"]:
        head = {field: slot[field] for field in SLOT_FIELDS}
        for booking in slot["bookings"] or [{}]:
            own = {_RENAMED.get(k, k): v for k, v in booking.items() if k not in _SLOT_HOLDS}
            rows.append({**head, **own})
    return rows, (*SLOT_FIELDS, *DAY_BOOKING_COLUMNS)
