"""The waitlist: who wants a seat at an exchange, in a window of dates and hours.

Adding an entry, like every freed seat, runs the one promotion of
:func:`slotctl.services.seats.promote_entries` / :func:`~slotctl.services.seats.promote`:
a free seat that matches a waiting entry goes to the earliest entry, as a pending
booking with actor ``waitlist``. Entries whose window has passed expire with
``bookings expire-pending``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.db.models import Booking, Exchange, WaitlistEntry
from slotctl.errors import Conflict, InvalidValue
from slotctl.localtime import optional_date, today
from slotctl.parsing import format_time, parse_time_range
from slotctl.records import EntryRecord
from slotctl.services import seats
from slotctl.services.lookup import by_uuid, exchange_by_slug

DEFAULT_DAYS = 30  # without dates, an entry waits from today for this many days


def entry_record(entry: WaitlistEntry, slug: str, reference: str | None) -> EntryRecord:
    between = None
    if entry.between_start is not None and entry.between_end is not None:
        between = f"{entry.between_start}-{entry.between_end}"
    return EntryRecord(
        entry.uuid, slug, entry.customer_name, entry.customer_email, entry.customer_phone,
        entry.from_date, entry.to_date, between, entry.status, reference, entry.created_at,
    )  # fmt: skip


@dataclass
class NewEntry:
    name: str
    email: str
    phone: str | None = None
    on: str | None = None  # --date
    first: str | None = None  # --from
    last: str | None = None  # --to
    between: str | None = None


def _window(new: NewEntry, timezone: str) -> tuple[date, date]:
    if new.on is not None and (new.first is not None or new.last is not None):
        raise InvalidValue("give --date or --from/--to, not both")
    if new.on is not None:
        first = last = optional_date(new.on, timezone) or today(timezone)
    else:
        first = optional_date(new.first, timezone) or today(timezone)
        last = optional_date(new.last, timezone) or first + timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InvalidValue(f"--to {last} is before --from {first}")
    if last < today(timezone):
        raise InvalidValue(f"the window ends {last}, in the past")
    return first, last


def add_entry(session: Session, slug: str, new: NewEntry) -> EntryRecord:
    """Record who waits for a seat; when one matching is free now, it is booked at once
    (pending, actor ``waitlist``), as any freed seat would be."""
    name = domain.customer_name(new.name)
    email = domain.email(new.email)
    phone = domain.phone(new.phone)
    between = None if new.between is None else parse_time_range(new.between)
    exchange = exchange_by_slug(session, slug)
    if not exchange.is_active:
        raise Conflict(f"exchange {exchange.slug!r} is inactive and takes no bookings")
    first, last = _window(new, exchange.timezone)
    waiting = session.scalar(
        select(WaitlistEntry.uuid).where(
            WaitlistEntry.exchange_id == exchange.id,
            WaitlistEntry.customer_email == email,
            WaitlistEntry.status == domain.ENTRY_WAITING,
            WaitlistEntry.from_date <= last,
            WaitlistEntry.to_date >= first,
        )
    )
    if waiting is not None:
        raise Conflict(f"{email} already waits at {exchange.slug} in that window ({waiting[:8]})")
    now = clock.now()
    entry = WaitlistEntry(
        exchange_id=exchange.id,
        customer_name=name,
        customer_email=email,
        customer_phone=phone,
        from_date=first,
        to_date=last,
        between_start=None if between is None else format_time(between[0]),
        between_end=None if between is None else format_time(between[1]),
        status=domain.ENTRY_WAITING,
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    session.flush()
    seats.promote_entries(session, exchange.id, now, only=entry.id)
    session.refresh(entry)
    return _record(session, entry)


def _record(session: Session, entry: WaitlistEntry) -> EntryRecord:
    reference = None
    if entry.booking_id is not None:
        reference = session.scalar(select(Booking.reference).where(Booking.id == entry.booking_id))
    return entry_record(entry, entry.exchange.slug, reference)


def list_entries(
    session: Session, slug: str | None, status: str | None = None
) -> list[EntryRecord]:
    """Entries by creation (first come first): waiting ones unless ``status`` says
    another (``all``: every one)."""
    query = (
        select(WaitlistEntry, Exchange.slug, Booking.reference)
        .join(Exchange, Exchange.id == WaitlistEntry.exchange_id)
        .outerjoin(Booking, Booking.id == WaitlistEntry.booking_id)
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    )
    if slug is not None:
        query = query.where(WaitlistEntry.exchange_id == exchange_by_slug(session, slug).id)
    wanted = (status or domain.ENTRY_WAITING).strip().lower()
    if wanted != "all":
        if wanted not in domain.ENTRY_STATUSES:
            raise InvalidValue(
                f"unknown status {status!r}: use {', '.join(domain.ENTRY_STATUSES)} or all"
            )
        query = query.where(WaitlistEntry.status == wanted)
    return [entry_record(e, s, r) for e, s, r in session.execute(query)]


def remove_entry(session: Session, ident: str) -> EntryRecord:
    """Take a waiting entry off the list (status ``removed``; its history stays)."""
    entry = by_uuid(session, WaitlistEntry, ident, "waitlist entry")
    if entry.status != domain.ENTRY_WAITING:
        raise Conflict(f"cannot remove a {entry.status} waitlist entry")
    done = session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == domain.ENTRY_WAITING)
        .values(status=domain.REMOVED, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise Conflict("the entry was changed by someone else meanwhile; try again")
    session.refresh(entry)
    return _record(session, entry)


def expire_entries(session: Session, now: datetime) -> int:
    """Waiting entries whose window has passed (their last date is before their
    exchange's local today) become ``expired``; how many."""
    expired = 0
    zones = session.execute(
        select(Exchange.id, Exchange.timezone).where(
            select(WaitlistEntry.id)
            .where(
                WaitlistEntry.exchange_id == Exchange.id,
                WaitlistEntry.status == domain.ENTRY_WAITING,
            )
            .exists()
        )
    ).all()
    for exchange_id, zone in zones:
        result = session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.exchange_id == exchange_id,
                WaitlistEntry.status == domain.ENTRY_WAITING,
                WaitlistEntry.to_date < today(zone),
            )
            .values(status=domain.ENTRY_EXPIRED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        expired += int(result.rowcount)  # type: ignore[attr-defined]
    return expired
