"""Bookings as an RFC 5545 calendar (the ``icalendar`` package), streamed.

One VEVENT per booking, with a stable UID (the booking's uuid), local times
with the exchange's TZID and a VTIMEZONE for each zone used, ``DTSTAMP`` from
the booking's last change (so the same data exports the same file), and
cancelled bookings as ``STATUS:CANCELLED``. Events are written one at a time:
memory stays flat however many bookings there are.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from slotctl import __version__
from slotctl.db.models import Exchange
from slotctl.transfer.export import Query, iter_rows

ICS_STATUS = {
    "pending": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "arrived": "CONFIRMED",
    "completed": "CONFIRMED",
    "no_show": "CONFIRMED",
    "cancelled": "CANCELLED",
}
UID_DOMAIN = "slotctl"


def _span(session: Session) -> tuple[date, date]:
    low, high = session.execute(text("SELECT min(date), max(date) FROM time_slots")).one()
    if low is None:
        return date(2000, 1, 1), date(2000, 1, 2)
    low = low if isinstance(low, date) else date.fromisoformat(low)
    high = high if isinstance(high, date) else date.fromisoformat(high)
    return date(low.year, 1, 1), date(high.year + 1, 1, 1)


def write_ics(session: Session, query: Query, out: IO[bytes]) -> int:
    """Write the calendar for the bookings ``query`` selects (built without neutralising)."""
    from icalendar import Calendar, Event, Timezone

    exchanges = {e.slug: e for e in session.scalars(select(Exchange))}
    calendar = Calendar()
    calendar.add("prodid", f"-//slotctl {__version__}//bookings//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    header = calendar.to_ical().decode().replace("END:VCALENDAR\r\n", "")
    out.write(header.encode())
    first, last = _span(session)
    for tzid in sorted({e.timezone for e in exchanges.values()}):
        if tzid != "UTC":
            out.write(Timezone.from_tzid(tzid, first_date=first, last_date=last).to_ical())
    count = 0
    zones: dict[str, ZoneInfo] = {}
    for record in iter_rows(session, query):
        exchange = exchanges[record["exchange"]]
        zone = zones.setdefault(exchange.timezone, ZoneInfo(exchange.timezone))
        event = Event()
        event.add("uid", f"{record['uuid']}@{UID_DOMAIN}")
        event.add("dtstamp", _utc(record["updated_at"]))
        event.add("created", _utc(record["created_at"]))
        event.add("last-modified", _utc(record["updated_at"]))
        event.add("dtstart", _local(record["starts_at"], zone))
        event.add("dtend", _local(record["ends_at"], zone))
        event.add("summary", f"{record['customer_name']} ({record['reference']})")
        event.add("location", exchange.name)
        event.add("status", ICS_STATUS[record["status"]])
        event.add("description", _description(record))
        event.add("categories", [record["status"]])
        out.write(event.to_ical())
        count += 1
    out.write(b"END:VCALENDAR\r\n")
    return count


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _local(value: str, zone: ZoneInfo) -> datetime:
    instant = datetime.fromisoformat(value)
    return instant if zone.key == "UTC" else instant.astimezone(zone)


def _description(record: dict[str, Any]) -> str:
    lines = [
        f"Booking {record['reference']} ({record['status']})",
        f"Email: {record['customer_email']}",
    ]
    if record["customer_phone"]:
        lines.append(f"Phone: {record['customer_phone']}")
    if record["notes"]:
        lines.append(f"Notes: {record['notes']}")
    if record["cancellation_reason"]:
        lines.append(f"Cancelled: {record['cancellation_reason']}")
    return "\n".join(lines)
