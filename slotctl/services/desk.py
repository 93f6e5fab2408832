"""What the front-desk screen (``slotctl desk``) shows, read in one unit of work.

The screen changes the database only through the services the commands use
(:mod:`slotctl.services.queue`, :mod:`slotctl.services.bookings`), so its audit
trail is the commands' own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.db.models import Booking, Exchange, Ticket, TimeSlot
from slotctl.localtime import day_window
from slotctl.records import BookingRecord, TicketRecord, booking_record
from slotctl.services.lookup import exchange_by_slug
from slotctl.services.queue import list_queue, local_day, references, ticket_record


@dataclass(frozen=True)
class DeskView:
    """One exchange's local day at the front desk, as read at ``now``."""

    exchange: str
    name: str
    timezone: str
    day: date
    now: datetime
    roster: list[dict[str, Any]] = field(default_factory=list)  # slots, each with bookings
    queue: list[TicketRecord] = field(default_factory=list)  # in call order
    counters: list[TicketRecord] = field(default_factory=list)  # called, by counter


def desk_view(session: Session, slug: str) -> DeskView:
    exchange = exchange_by_slug(session, slug)
    now = clock.now()
    day = local_day(exchange.timezone, now)
    called = session.scalars(
        select(Ticket)
        .where(
            Ticket.exchange_id == exchange.id,
            Ticket.status == domain.CALLED,
            Ticket.day == day,
        )
        .order_by(Ticket.counter, Ticket.called_at)
    ).all()
    found = references(session, [t.booking_id for t in called if t.booking_id is not None])
    return DeskView(
        exchange=exchange.slug,
        name=exchange.name,
        timezone=exchange.timezone,
        day=day,
        now=now,
        roster=_roster(session, exchange, day, now),
        queue=list_queue(session, exchange.slug),
        counters=[ticket_record(t, exchange, found.get(t.booking_id), now) for t in called],
    )


def _roster(session: Session, exchange: Exchange, day: date, now: datetime) -> list[dict[str, Any]]:
    """The day's slots by start, each with its bookings by creation: only the columns
    the screen shows (a refresh reads hundreds of bookings every few seconds)."""
    zone = ZoneInfo(exchange.timezone)
    start, end = day_window(exchange.timezone, day, day)
    rows = session.execute(
        select(
            TimeSlot.id,
            TimeSlot.uuid,
            TimeSlot.starts_at,
            TimeSlot.ends_at,
            TimeSlot.max_capacity,
            TimeSlot.current_bookings,
            TimeSlot.is_available,
            Booking.uuid,
            Booking.reference,
            Booking.customer_name,
            Booking.status,
        )
        .outerjoin(Booking, Booking.time_slot_id == TimeSlot.id)
        .where(
            TimeSlot.exchange_id == exchange.id,
            TimeSlot.starts_at >= start,
            TimeSlot.starts_at < end,
        )
        .order_by(TimeSlot.starts_at, Booking.created_at, Booking.id)
    ).all()
    slots: dict[int, dict[str, Any]] = {}
    for slot_id, uuid, starts, ends, capacity, booked, available, *booking in rows:
        slot = slots.get(slot_id)
        if slot is None:
            slot = slots[slot_id] = {
                "uuid": uuid,
                "starts_at": starts.astimezone(zone),
                "ends_at": ends.astimezone(zone),
                "available_seats": max(capacity - booked, 0),
                "status": domain.slot_status(starts, available, booked, capacity, now),
                "bookings": [],
            }
        if booking[0] is not None:
            keys = ("uuid", "reference", "customer_name", "status")
            slot["bookings"].append(dict(zip(keys, booking, strict=True)))
    return list(slots.values())


FIND_LIMIT = 50


def find_customers(session: Session, slug: str, text: str) -> list[BookingRecord]:
    """Bookings of the exchange from its local today on whose customer name or email
    contains ``text`` (any case) or whose reference is ``text``: by slot start."""
    exchange = exchange_by_slug(session, slug)
    wanted = text.strip()
    if not wanted:
        return []
    pattern = f"%{wanted.lower()}%"
    day = local_day(exchange.timezone, clock.now())
    start, _ = day_window(exchange.timezone, day, day)
    rows = session.execute(
        select(Booking, TimeSlot)
        .join(TimeSlot, Booking.time_slot_id == TimeSlot.id)
        .where(
            Booking.exchange_id == exchange.id,
            TimeSlot.starts_at >= start,
            or_(
                Booking.customer_email.like(pattern),
                Booking.customer_name.ilike(pattern),
                Booking.reference == wanted.upper(),
            ),
        )
        .order_by(TimeSlot.starts_at, Booking.created_at)
        .limit(FIND_LIMIT)
    ).all()
    zone = ZoneInfo(exchange.timezone)
    return [booking_record(b, s, exchange.slug, zone) for b, s in rows]
