"""Calendars: a month grid, a week agenda and a day roster, readable at 80 columns.

On a terminal cells are coloured by how full they are; elsewhere the same
tables are drawn in plain ASCII with no colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from slotctl.render import make_console
from slotctl.wording import counted

DAY_HEADERS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def fullness_style(booked: int, seats: int) -> str:
    """green: mostly free, yellow: filling, red: (nearly) full."""
    if seats <= 0:
        return "dim"
    ratio = booked / seats
    if ratio >= 1:
        return "bold red"
    if ratio >= 0.75:
        return "red"
    if ratio >= 0.4:
        return "yellow"
    return "green"


def _box(console: Console) -> box.Box:
    return box.SQUARE if console.is_terminal else box.ASCII


def month_grid(data: Mapping[str, Any]) -> None:
    console = make_console()
    days = data["days"]
    table = Table(
        title=f"{data['exchange']} — {data['month']} ({data['timezone']}) — free/total seats",
        box=_box(console),
        show_lines=True,
        title_justify="left",
    )
    for header in DAY_HEADERS:
        table.add_column(header, justify="center", width=8, no_wrap=True)
    cells: list[Text] = [Text("") for _ in range(days[0]["weekday"])]
    for day in days:
        number = day["date"].day
        if day["slots"]:
            style = "dim" if day["past"] else fullness_style(day["booked"], day["seats"])
            cell = Text(f"{number:2d}\n", style="bold")
            cell.append(f"{day['free']}/{day['seats']}", style=style)
        elif day["closed"]:
            cell = Text(f"{number:2d}\nclosed", style="dim")
        else:
            cell = Text(f"{number:2d}\n-", style="dim")
        cells.append(cell)
    while len(cells) % 7:
        cells.append(Text(""))
    for week in range(0, len(cells), 7):
        table.add_row(*cells[week : week + 7])
    console.print(table)
    totals = (sum(d["booked"] for d in days), sum(d["seats"] for d in days))
    console.print(
        f"{totals[0]:,} of {counted(totals[1], 'seat')} booked "
        "(green < 40% booked, yellow < 75%, red above; dim: past or closed).",
        highlight=False,
    )


def week_agenda(data: Mapping[str, Any]) -> None:
    console = make_console()
    days = data["days"]
    table = Table(
        title=f"{data['exchange']} — week of {data['week_start']} ({data['timezone']}) "
        "— booked/capacity",
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
                style = (
                    "dim"
                    if slot["status"] == "past"
                    else fullness_style(slot["current_bookings"], slot["max_capacity"])
                )
                row.append(Text(f"{slot['current_bookings']}/{slot['max_capacity']}", style=style))
        table.add_row(*row)
    if not by_time:
        console.print(f"{data['exchange']}: no slots in the week of {data['week_start']}")
        return
    console.print(table)


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
        style = fullness_style(slot["current_bookings"], slot["max_capacity"])
        table.add_row(
            f"{slot['start']}-{slot['end']}",
            Text(f"{slot['current_bookings']}/{slot['max_capacity']}", style=style),
            slot["status"],
            names or "—",
        )
    console.print(table)
