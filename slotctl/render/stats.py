"""The terminal view of ``slotctl stats``: a summary, bar charts and heat maps
(utilisation of the slots, and waiting time at the front desk).

Shades carry the meaning (``·░▒▓█``), so the heat map reads without colour too
(``NO_COLOR``, a pipe); on a colour terminal each shade is also tinted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from slotctl.render import make_console

BAR_WIDTH = 30
EXCHANGE_COLUMNS = (
    "exchange",
    "slots",
    "booked/seats",
    "util.",
    "bookings",
    "no-show",
    "cancel",
    "lead h",
    "wait min",
)
SHADES = ("·", "░", "▒", "▓", "█")
SHADE_STYLES = ("dim", "green", "yellow", "dark_orange", "red")
STATUS_STYLES = {
    "pending": "yellow",
    "confirmed": "green",
    "arrived": "cyan",
    "completed": "blue",
    "no_show": "red",
    "cancelled": "bright_black",
}


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} min"


def _bar(value: float, largest: float, style: str = "cyan", width: int = BAR_WIDTH) -> Text:
    """A horizontal bar, eighths of a block wide, proportional to ``value / largest``."""
    if largest <= 0 or value <= 0:
        return Text("")
    eighths = max(1, round(value / largest * width * 8))
    full, part = divmod(eighths, 8)
    return Text("█" * full + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[part], style=style)


def _shade(value: float | None, top: float) -> tuple[str, str]:
    """The shade of a cell: blank without a value, ``·`` for zero, then quarters of the
    largest cell (``top``), so a quiet period still shows where it is busiest."""
    if value is None:
        return " ", ""
    if value <= 0 or top <= 0:
        return SHADES[0], SHADE_STYLES[0]
    index = min(len(SHADES) - 1, max(1, math.ceil(value / top * 4 - 1e-9)))
    return SHADES[index], SHADE_STYLES[index]


def summary_table(stats: Mapping[str, Any], title: str) -> Table:
    table = Table(
        title=title, show_header=False, title_justify="left", box=box.SIMPLE, min_width=len(title)
    )
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    table.add_column("", no_wrap=True)
    utilization = stats["utilization"]
    table.add_row("Slots", f"{stats['slots']:,}", "")
    table.add_row("Seats", f"{stats['seats']:,}", "")
    table.add_row(
        "Booked seats", f"{stats['booked_seats']:,}", _bar(utilization or 0, 1.0, "green", 20)
    )
    table.add_row("Utilisation", percent(utilization), "")
    table.add_row("Bookings", f"{sum(stats['bookings'].values()):,}", "")
    table.add_row("No-show rate", percent(stats["no_show_rate"]), "no_show / (completed + no_show)")
    table.add_row("Cancellation rate", percent(stats["cancellation_rate"]), "")
    table.add_row("Expired", f"{stats['expired']:,}", "pending bookings cancelled by expiry")
    lead = stats["lead_time_hours_median"]
    table.add_row("Median lead time", "—" if lead is None else f"{lead:,.1f} h", "booking → slot")
    table.add_row("Median wait", minutes(stats["wait_minutes_median"]), "arrival → call")
    table.add_row("Wait, 90th percentile", minutes(stats["wait_minutes_p90"]), "")
    table.add_row("Median service", minutes(stats["service_minutes_median"]), "call → served")
    table.add_row("Walk-ins served", f"{stats['walkins_served']:,}", "")
    table.add_row(
        "Waitlist bookings", f"{stats['waitlist_bookings']:,}", "seats the waitlist filled"
    )
    return table


def status_chart(bookings: Mapping[str, int]) -> Table:
    title = "Bookings by status"
    table = Table(
        title=title, title_justify="left", box=None, show_header=False, min_width=len(title)
    )
    table.add_column("status")
    table.add_column("n", justify="right")
    table.add_column("bar", no_wrap=True)
    largest = max(bookings.values(), default=0)
    for status, count in bookings.items():
        table.add_row(status, f"{count:,}", _bar(count, largest, STATUS_STYLES.get(status, "cyan")))
    return table


def usage_chart(rows: Sequence[Mapping[str, Any]], label: str, title: str) -> Table:
    """Utilisation per row (weekday, exchange) as bars on a common 0–100% scale."""
    table = Table(
        title=title, title_justify="left", box=None, show_header=False, min_width=len(title)
    )
    table.add_column(label)
    table.add_column("utilisation", justify="right")
    table.add_column("bar", no_wrap=True)
    table.add_column("booked/seats", justify="right", style="dim")
    for row in rows:
        table.add_row(
            str(row[label]),
            percent(row["utilization"]),
            _bar(row["utilization"] or 0, 1.0, "green"),
            f"{row['booked_seats']:,}/{row['seats']:,}",
        )
    return table


def _grid(
    title: str, by_weekday: Sequence[Mapping[str, Any]], hours: Sequence[int], key: str
) -> tuple[Table, float]:
    """Weekday × local hour, each cell shaded by its ``key`` in quarters of the largest
    cell; and that largest value."""
    table = Table(
        title=title,
        min_width=len(title),
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    table.add_column("", style="bold")
    for hour in hours:
        table.add_column(f"{hour:02d}", justify="center", min_width=2)
    top = max((cell[key] or 0 for day in by_weekday for cell in day["by_hour"]), default=0)
    for day in by_weekday:
        cells = {cell["hour"]: cell[key] for cell in day["by_hour"]}
        row = []
        for hour in hours:
            shade, style = _shade(cells.get(hour), top)
            row.append(Text(shade * 2, style=style))
        table.add_row(day["day"], *row)
    return table, top


def _legend(labels: Sequence[str], blank: str) -> Text:
    legend = Text("  ")
    for shade, style, label in zip(SHADES, SHADE_STYLES, labels, strict=True):
        legend.append(shade * 2, style=style).append(f" {label}  ")
    return legend.append(f"(blank: {blank})", style="dim")


def heat_map(by_weekday: Sequence[Mapping[str, Any]], hours: Sequence[int]) -> Group:
    """Weekday × local hour; each cell's shade is that hour's utilisation, in quarters
    of the busiest cell (the legend gives the percentages)."""
    table, top = _grid("Utilisation by weekday and local hour", by_weekday, hours, "utilization")
    labels = ["0%"] + [f"≤{percent(top * quarter / 4)}" for quarter in range(1, 5)]
    return Group(table, _legend(labels, "no slots"))


def wait_map(wait_by_weekday: Sequence[Mapping[str, Any]]) -> Group:
    """Weekday × local hour of arrival; each cell's shade is the median wait of the
    tickets that arrived then, in quarters of the longest (the legend gives minutes)."""
    hours = sorted({cell["hour"] for day in wait_by_weekday for cell in day["by_hour"]})
    title = "Median wait by weekday and local hour of arrival"
    table, top = _grid(title, wait_by_weekday, hours, "wait_minutes_median")
    labels = ["0 min"] + [f"≤{minutes(top * quarter / 4)}" for quarter in range(1, 5)]
    return Group(table, _legend(labels, "nobody called"))


def exchange_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(
        title="By exchange", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, min_width=11
    )
    for name in EXCHANGE_COLUMNS:
        table.add_column(name, justify="left" if name == "exchange" else "right", no_wrap=True)
    for row in rows:
        lead = row["lead_time_hours_median"]
        table.add_row(
            row["exchange"],
            f"{row['slots']:,}",
            f"{row['booked_seats']:,}/{row['seats']:,}",
            percent(row["utilization"]),
            f"{sum(row['bookings'].values()):,}",
            percent(row["no_show_rate"]),
            percent(row["cancellation_rate"]),
            "—" if lead is None else f"{lead:,.1f}",
            "—" if row["wait_minutes_median"] is None else f"{row['wait_minutes_median']:,.1f}",
        )
    return table


def show(stats: Mapping[str, Any], scope: str, console: Console | None = None) -> None:
    """Print the whole stats view to stdout."""
    console = console or make_console()
    title = f"Stats for {scope}, {stats['from']} to {stats['to']}"
    console.print(summary_table(stats, title))
    waited = any(day["tickets"] for day in stats["wait_by_weekday"])
    if stats["slots"] == 0:
        console.print("No slots in this period.", style="dim")
    else:
        console.print(status_chart(stats["bookings"]))
        console.print()
        console.print(usage_chart(stats["by_weekday"], "day", "Utilisation by weekday"))
        console.print()
        hours = [row["hour"] for row in stats["by_hour"]]
        console.print(heat_map(stats["by_weekday"], hours))
    if waited:
        console.print()
        console.print(wait_map(stats["wait_by_weekday"]))
    if len(stats["exchanges"]) > 1 and (stats["slots"] or waited):
        console.print()
        console.print(exchange_table(stats["exchanges"]))
