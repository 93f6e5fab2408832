"""Calendars of an exchange's slots: a month's (or a run of weeks') overview, a week's
agenda, a day's roster."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.bounds import DATES, FIRST_DATE, LAST_DATE
from slotctl.db.models import Booking, Exchange
from slotctl.errors import InvalidValue
from slotctl.localtime import day_window
from slotctl.records import booking_record, slot_record
from slotctl.services.generate import closed_dates, week_shifts
from slotctl.services.lookup import exchange_by_slug
from slotctl.services.slots import SLOT_ROW, SLOTS, slots_between


def parse_month(text: str) -> tuple[int, int]:
    try:
        year_text, month_text = text.strip().split("-")
        year, month = int(year_text), int(month_text)
        first = date(year, month, 1)
    except ValueError:
        raise InvalidValue(f"invalid month {text!r}: use YYYY-MM, e.g. 2027-03") from None
    if not FIRST_DATE <= first <= LAST_DATE:
        raise InvalidValue(f"month {text.strip()} is out of range: dates run from {DATES}")
    return year, month


def _closed_days(session: Session, exchange: Exchange, first: date, last: date) -> set[date]:
    week = week_shifts(session, exchange)
    closed = closed_dates(session, exchange.id, first, last)
    day = first
    while day <= last:
        if not week.get(day.weekday()):
            closed.add(day)
        day += timedelta(days=1)
    return closed


def month_overview(session: Session, slug: str, year: int, month: int) -> dict[str, Any]:
    """Per local day of the month: slots, seats, booked and free seats, closed or not."""
    exchange = exchange_by_slug(session, slug)
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    return {
        "exchange": exchange.slug,
        "timezone": exchange.timezone,
        "month": f"{year:04d}-{month:02d}",
        "days": _days(session, exchange, first, last),
    }


def weeks_overview(session: Session, slug: str, first: date, last: date) -> dict[str, Any]:
    """The days of :func:`month_overview` for the whole weeks (Monday to Sunday) that
    hold ``first`` to ``last``, whatever months they straddle."""
    exchange = exchange_by_slug(session, slug)
    monday = first - timedelta(days=first.weekday())
    sunday = last + timedelta(days=6 - last.weekday())
    return {
        "exchange": exchange.slug,
        "timezone": exchange.timezone,
        "from": monday,
        "to": sunday,
        "days": _days(session, exchange, monday, sunday),
    }


def _days(session: Session, exchange: Exchange, first: date, last: date) -> list[dict[str, Any]]:
    """One object per local date from ``first`` to ``last`` (the month result's ``days``)."""
    free_seats = case(
        (SLOTS.c.is_available, SLOTS.c.max_capacity - SLOTS.c.current_bookings), else_=0
    )
    rows = session.execute(
        select(
            SLOTS.c.date,
            func.count(),
            func.sum(SLOTS.c.max_capacity),
            func.sum(SLOTS.c.current_bookings),
            func.sum(free_seats),
            func.sum(case((SLOTS.c.is_available, 0), else_=1)),
        )
        .where(SLOTS.c.exchange_id == exchange.id, SLOTS.c.date.between(first, last))
        .group_by(SLOTS.c.date)
    ).all()
    by_day = {row[0]: row for row in rows}
    closed = _closed_days(session, exchange, first, last)
    today = clock.now().astimezone(ZoneInfo(exchange.timezone)).date()
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        row = by_day.get(day)
        days.append(
            {
                "date": day,
                "weekday": day.weekday(),
                "slots": int(row[1]) if row else 0,
                "seats": int(row[2] or 0) if row else 0,
                "booked": int(row[3] or 0) if row else 0,
                "free": int(row[4] or 0) if row else 0,
                "blocked": int(row[5] or 0) if row else 0,
                "closed": day in closed and not row,
                "past": day < today,
            }
        )
    return days


def week_agenda(session: Session, slug: str, day: date) -> dict[str, Any]:
    """The Monday-to-Sunday week containing ``day``: its dates and slots."""
    exchange = exchange_by_slug(session, slug)
    monday = day - timedelta(days=day.weekday())
    sunday = monday + timedelta(days=6)
    start, end = day_window(exchange.timezone, monday, sunday)
    rows = session.execute(
        select(*SLOT_ROW)
        .where(
            SLOTS.c.exchange_id == exchange.id, SLOTS.c.starts_at >= start, SLOTS.c.starts_at < end
        )
        .order_by(SLOTS.c.starts_at)
    ).all()
    closed = _closed_days(session, exchange, monday, sunday)
    now = clock.now()
    return {
        "exchange": exchange.slug,
        "timezone": exchange.timezone,
        "week_start": monday,
        "days": [
            {"date": monday + timedelta(days=i), "closed": (monday + timedelta(days=i)) in closed}
            for i in range(7)
        ],
        "slots": [slot_record(row, exchange.slug, exchange.timezone, now) for row in rows],
    }


def day_roster(session: Session, slug: str, day: date) -> dict[str, Any]:
    """A day's slots in order, each with its bookings."""
    exchange = exchange_by_slug(session, slug)
    start, end = day_window(exchange.timezone, day, day)
    slots = slots_between(session, exchange, start, end)
    bookings: dict[int, list[Booking]] = {}
    if slots:
        for booking in session.scalars(
            select(Booking)
            .where(Booking.time_slot_id.in_([s.id for s in slots]))
            .order_by(Booking.created_at)
        ):
            bookings.setdefault(booking.time_slot_id, []).append(booking)
    now = clock.now()
    records = []
    for slot in slots:
        records.append(
            {
                **slot_record(slot, exchange.slug, exchange.timezone, now),
                "bookings": [
                    booking_record(b, slot, exchange.slug, exchange.timezone)
                    for b in bookings.get(slot.id, [])
                ],
            }
        )
    return {
        "exchange": exchange.slug,
        "timezone": exchange.timezone,
        "date": day,
        "closed": day in _closed_days(session, exchange, day, day),
        "slots": records,
    }
