"""Bookings: creating, moving and the lifecycle commands, listings and expiry.

The rules are the domain's (:mod:`slotctl.domain`); seats are taken and released,
and statuses changed with their audit events, only by :mod:`slotctl.services.seats`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, joinedload

from slotctl import clock, domain
from slotctl.bounds import EXPIRY_MINUTES, LIMIT
from slotctl.db import dialects
from slotctl.db.models import Booking, BookingEvent, Exchange, TimeSlot
from slotctl.errors import Conflict, InvalidValue, NotFound
from slotctl.localtime import Span, day_window, optional_date, slot_text
from slotctl.records import (
    HISTORY_FIELDS,
    BookingRecord,
    EventRecord,
    Page,
    Record,
    booking_record,
    record_type,
)
from slotctl.services import seats
from slotctl.services.lookup import by_uuid, exchange_by_slug
from slotctl.services.slots import resolve_slot
from slotctl.wording import counted

_REFERENCE_RE = re.compile(r"^BK-[0-9A-Z]{6}$")
draw_reference = domain.draw_reference


# Finding ------------------------------------------------------------------------------


def find_booking(session: Session, ident: str) -> Booking:
    """A booking by reference (any case), uuid or uuid prefix."""
    key = ident.strip().upper()
    if key.startswith("BK-"):
        if not _REFERENCE_RE.match(key):
            raise InvalidValue(f"invalid booking reference {ident!r}: e.g. BK-7K3Q9X")
        booking = session.scalars(select(Booking).where(Booking.reference == key)).one_or_none()
        if booking is None:
            raise NotFound(f"no booking {key}")
        return booking
    return by_uuid(session, Booking, ident, "booking")


def record(booking: Booking) -> BookingRecord:
    slot, exchange = booking.slot, booking.exchange
    return booking_record(booking, slot, exchange.slug, exchange.timezone)


# Why a seat is refused -----------------------------------------------------------------


def _refusal(slot: Any, exchange: Any, now: datetime) -> Conflict:
    """Why a seat could not be taken (read after the conditional UPDATE matched nothing)."""
    return Conflict(
        domain.seat_refusal(
            slot=slot_text(exchange.slug, slot.starts_at, exchange.timezone),
            starts_at=slot.starts_at,
            is_available=slot.is_available,
            booked=slot.current_bookings,
            capacity=slot.max_capacity,
            min_notice_minutes=exchange.min_notice_minutes,
            now=now,
        )
    )


def _check_window(slot: Any, exchange: Any, now: datetime) -> None:
    if not exchange.is_active:
        raise Conflict(f"exchange {exchange.slug!r} is inactive and takes no bookings")
    _, latest = domain.booking_window(now, 0, exchange.max_advance_days)
    if latest is not None and slot.starts_at > latest:
        raise Conflict(
            f"slot {slot_text(exchange.slug, slot.starts_at, exchange.timezone)} is beyond the"
            f" maximum advance of {counted(exchange.max_advance_days, 'day')}"
        )


def _check_customer(
    session: Session,
    slot: Any,
    email: str,
    *,
    allow_overlap: bool,
    ignore: int | None = None,
) -> None:
    """The customer's other active bookings: none on this slot, none overlapping it."""
    query = (
        select(Booking.reference, TimeSlot.id, TimeSlot.starts_at, Exchange.slug)
        .join(TimeSlot, Booking.time_slot_id == TimeSlot.id)
        .join(Exchange, Booking.exchange_id == Exchange.id)
        .where(
            Booking.customer_email == email,
            Booking.status.in_(domain.ACTIVE_STATUSES),
            TimeSlot.starts_at < slot.ends_at,
            TimeSlot.ends_at > slot.starts_at,
        )
    )
    if ignore is not None:
        query = query.where(Booking.id != ignore)
    for reference, slot_id, _starts, slug in session.execute(query):
        if slot_id == slot.id:
            raise Conflict(f"{email} already holds {reference} on this slot")
        if not allow_overlap:
            raise Conflict(
                f"{email} already holds {reference} at {slug} overlapping this slot "
                "(--allow-overlap to book anyway)"
            )


def _claim(slot: Any, exchange: Any, email: str, now: datetime, **options: Any) -> seats.Claim:
    return seats.Claim(
        slot_id=slot.id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        email=email,
        earliest=domain.booking_window(now, exchange.min_notice_minutes, None)[0],
        **options,
    )


# Commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    id: int
    uuid: str
    starts_at: datetime
    ends_at: datetime
    max_capacity: int
    current_bookings: int
    is_available: bool


@dataclass(frozen=True)
class _Exchange:
    id: int
    slug: str
    timezone: str
    is_active: bool
    min_notice_minutes: int
    max_advance_days: int | None


def _slot_for_booking(session: Session, ident: str) -> tuple[_Slot, _Exchange]:
    """The slot and its exchange as plain values: one raw query (the booking hot path)."""
    key = ident.strip().lower()
    if len(key) != 36:
        slot, _ = resolve_slot(session, ident)  # prefix or SLUG@time: the general path
        key = slot.uuid
    connection = session.connection()
    sql = dialects.of(connection)
    rows = sql.run(
        connection,
        "SELECT s.id, s.uuid, s.starts_at, s.ends_at, s.max_capacity, s.current_bookings,"
        " s.is_available, e.id, e.slug, e.timezone, e.is_active, e.min_notice_minutes,"
        " e.max_advance_days FROM time_slots s JOIN exchanges e ON e.id = s.exchange_id"
        " WHERE s.uuid = ?",
        (key,),
    )
    if not rows:
        raise NotFound(f"no slot {ident}")
    (slot_id, uuid, starts, ends, capacity, booked, open_, *exchange), *_ = rows
    exchange_id, slug, timezone, active, notice, advance = exchange
    return (
        _Slot(slot_id, uuid, sql.instant(starts), sql.instant(ends), capacity, booked, bool(open_)),
        _Exchange(exchange_id, slug, timezone, bool(active), notice, advance),
    )


@dataclass
class NewBooking:
    name: str
    email: str
    phone: str | None = None
    notes: str | None = None
    confirm: bool = False
    allow_overlap: bool = False


def create_booking(session: Session, slot_ident: str, new: NewBooking, actor: str) -> BookingRecord:
    name = domain.customer_name(new.name)
    email = domain.email(new.email)
    phone = domain.phone(new.phone)
    notes = domain.notes(new.notes)
    slot, exchange = _slot_for_booking(session, slot_ident)
    now = clock.now()
    _check_window(slot, exchange, now)
    status = domain.CONFIRMED if new.confirm else domain.PENDING
    # On SQLite the reads above ran without the write lock; end them, so that the
    # write below starts a fresh transaction holding the lock only for its statements
    # (PostgreSQL locks the slot's row at the UPDATE either way).
    if dialects.of(session).lock_on_first_write:
        session.commit()
    booked = seats.book(
        session,
        _claim(slot, exchange, email, now, overlap=not new.allow_overlap),
        seats.NewBooking(draw_reference(), exchange.id, name, email, phone, notes, status, actor),
        now,
        draw_reference,
    )
    if booked is None:  # full, blocked, too late, or the customer: find out which
        fresh, _ = _slot_for_booking(session, slot.uuid)
        _check_customer(session, fresh, email, allow_overlap=new.allow_overlap)
        raise _refusal(fresh, exchange, now)
    _, reference, uuid = booked
    zone = ZoneInfo(exchange.timezone)
    stamps = domain.created_stamps(status, now)
    return BookingRecord(
        uuid, reference, exchange.slug, slot.uuid, slot.starts_at.astimezone(zone),
        slot.ends_at.astimezone(zone), name, email, phone, notes, status, now, now,
        stamps["confirmed_at"], stamps["completed_at"], stamps["cancelled_at"], None,
        stamps["arrived_at"], None, None,
    )  # fmt: skip


@record_type
class Outcome(Record):
    """What a batch did, or would have done, to one booking."""

    booking: str
    from_status: str
    to_status: str
    result: str  # NOT_APPLIED or REFUSED: a refused batch changes nothing
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self)


REFUSED, NOT_APPLIED = "refused", "not_applied"
WOULD_APPLY = "would apply, but the batch is all or nothing and another booking was refused"


class BatchRefused(Conflict):
    """Some bookings of a batch were refused; nothing was applied."""

    def __init__(self, message: str, outcomes: list[Outcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


Check = Callable[[Booking, datetime], "str | None"]  # why a booking is refused, or None
Then = Callable[[Booking, datetime], None]  # what follows a booking's transition


def transition(
    session: Session,
    action: str,
    idents: Sequence[str],
    actor: str,
    *,
    reason: str | None = None,
    check: Check | None = None,
    then: Then | None = None,
) -> list[BookingRecord]:
    """Apply one lifecycle action to several bookings, all or nothing.

    Each booking is checked (the domain's rule, then ``check``) and changed with a
    conditional UPDATE, then ``then`` runs for it; if any is refused the caller's
    transaction must be rolled back (``BatchRefused`` carries every booking's outcome).
    """
    rule = domain.TRANSITIONS[action]
    note = domain.reason(reason)
    now = clock.now()
    outcomes: list[Outcome] = []
    changed: list[Booking] = []
    found = {b.id: b for b in (find_booking(session, ident) for ident in idents)}
    order = {booking_id: index for index, booking_id in enumerate(found)}
    # Rows are locked in id order, so concurrent batches cannot deadlock.
    for booking in sorted(found.values(), key=lambda b: b.id):
        current = booking.status
        refusal = domain.refusal(rule, current, started=booking.slot.starts_at <= now)
        if refusal is None and check is not None:
            refusal = check(booking, now)
        if refusal is None:
            refusal = seats.change_status(session, booking, rule, actor, note, now)
        if refusal is None and then is not None:
            then(booking, now)
        if refusal is not None:
            outcomes.append(Outcome(booking.reference, current, rule.target, REFUSED, refusal))
            continue
        outcomes.append(Outcome(booking.reference, current, rule.target, NOT_APPLIED, WOULD_APPLY))
        changed.append(booking)
    by_reference = {b.reference: order[b.id] for b in found.values()}
    outcomes.sort(key=lambda o: by_reference[o.booking])
    refused = [o for o in outcomes if o.result == REFUSED]
    if refused:
        first = refused[0]
        raise BatchRefused(
            f"{len(refused)} of {counted(len(outcomes), 'booking')} refused ({first.booking}: "
            f"{first.reason}); nothing was changed",
            outcomes,
        )
    session.flush()
    for booking in changed:
        session.refresh(booking)
    return [record(booking) for booking in changed]


def move_booking(session: Session, ident: str, slot_ident: str, actor: str) -> BookingRecord:
    """Take the new seat and release the old one in one transaction."""
    booking = find_booking(session, ident)
    if booking.status not in domain.MOVABLE_STATUSES:
        raise Conflict(f"cannot move a {booking.status} booking")
    slot, exchange = resolve_slot(session, slot_ident)
    if slot.id == booking.time_slot_id:
        raise Conflict(f"{booking.reference} is already on that slot")
    now = clock.now()
    _check_window(slot, exchange, now)
    _check_customer(session, slot, booking.customer_email, allow_overlap=False, ignore=booking.id)
    old_slot, old_exchange = booking.slot, booking.exchange
    # Lock both slots in id order: two moves in opposite directions must not deadlock.
    session.execute(
        select(TimeSlot.id)
        .where(TimeSlot.id.in_([old_slot.id, slot.id]))
        .order_by(TimeSlot.id)
        .with_for_update()
    ).all()
    claim = _claim(slot, exchange, booking.customer_email, now, ignore=booking.id)
    if not seats.take(session, claim, now):
        session.refresh(slot)
        raise _refusal(slot, exchange, now)
    moved = session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == booking.status)
        .values(time_slot_id=slot.id, exchange_id=exchange.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"{booking.reference} was changed by someone else meanwhile; try again")
    seats.release(session, old_slot.id, now)
    seats.promote(session, [old_slot.id], now)
    seats.event(
        session,
        booking.id,
        actor,
        booking.status,
        booking.status,
        f"moved from {slot_text(old_exchange.slug, old_slot.starts_at, old_exchange.timezone)}"
        f" to {slot_text(exchange.slug, slot.starts_at, exchange.timezone)}",
        now,
    )
    session.flush()
    session.refresh(booking)
    return record(booking)


# Queries -----------------------------------------------------------------------------


@dataclass
class Filters(Span):
    """A listing of bookings: the span of their slots, and who, which status, how many."""

    customer: str | None = None
    status: str | None = None
    limit: int | None = None
    when: str | None = None  # "upcoming" or "history"


def _query(session: Session, filters: Filters) -> Select[Any]:
    query = (
        select(Booking, TimeSlot, Exchange)
        .join(TimeSlot, Booking.time_slot_id == TimeSlot.id)
        .join(Exchange, Booking.exchange_id == Exchange.id)
    )
    timezone = filters.default_timezone
    if filters.exchange is not None:
        exchange = exchange_by_slug(session, filters.exchange)
        query = query.where(Booking.exchange_id == exchange.id)
        timezone = exchange.timezone
    if filters.customer is not None:
        query = query.where(Booking.customer_email == filters.customer.strip().lower())
    if filters.status is not None:
        query = query.where(Booking.status == domain.parse_status(filters.status))
    first = optional_date(filters.from_date, timezone)
    last = optional_date(filters.to_date, timezone)
    if first is not None:
        query = query.where(TimeSlot.starts_at >= day_window(timezone, first, first)[0])
    if last is not None:
        query = query.where(TimeSlot.starts_at < day_window(timezone, last, last)[1])
    now = clock.now()
    if filters.when == "upcoming":
        query = query.where(TimeSlot.starts_at > now)
    elif filters.when == "history":
        query = query.where(TimeSlot.starts_at <= now)
    order = (
        (TimeSlot.starts_at.desc(), Booking.created_at.desc())
        if filters.when == "history"
        else (TimeSlot.starts_at, Booking.created_at)
    )
    return cast("Select[Any]", query.order_by(*order, Booking.id))


def list_bookings(session: Session, filters: Filters) -> Page[BookingRecord]:
    """Bookings by their slot's start, then creation. History keeps that order too, but
    a ``limit`` keeps its most recent bookings (the ones fetched first)."""
    if filters.limit is not None:
        LIMIT.check(filters.limit)
    query = _query(session, filters)
    if filters.limit:
        query = query.limit(filters.limit + 1)
    rows = session.execute(query).all()
    more = bool(filters.limit) and len(rows) > (filters.limit or 0)
    rows = rows[: filters.limit] if filters.limit else rows
    if filters.when == "history":  # fetched most recent first; listed in slot order
        rows = rows[::-1]
    return Page(
        [booking_record(b, s, e.slug, e.timezone) for b, s, e in rows],
        more,
    )


def day_bookings(session: Session, slug: str, day: date | None) -> list[BookingRecord]:
    """The day's roster in slot order (today, the exchange's local date, by default)."""
    exchange = exchange_by_slug(session, slug)
    if day is None:
        day = clock.now().astimezone(ZoneInfo(exchange.timezone)).date()
    start, end = day_window(exchange.timezone, day, day)
    rows = session.execute(
        select(Booking, TimeSlot)
        .join(TimeSlot, Booking.time_slot_id == TimeSlot.id)
        .where(
            Booking.exchange_id == exchange.id,
            TimeSlot.starts_at >= start,
            TimeSlot.starts_at < end,
        )
        .order_by(TimeSlot.starts_at, Booking.created_at, Booking.id)
    ).all()
    return [booking_record(b, s, exchange.slug, exchange.timezone) for b, s in rows]


def show_booking(session: Session, ident: str) -> tuple[dict[str, Any], str]:
    """The booking with its history, and its exchange's timezone (tables show the
    history in the exchange's local time)."""
    booking = find_booking(session, ident)
    events = session.scalars(
        select(BookingEvent)
        .where(BookingEvent.booking_id == booking.id)
        .order_by(BookingEvent.at, BookingEvent.id)
    )
    history = [EventRecord(*(getattr(event, key) for key in HISTORY_FIELDS)) for event in events]
    return {**record(booking), "history": history}, booking.exchange.timezone


# Cron: expiry ------------------------------------------------------------------------


def expire_pending(session: Session, older_than: int) -> tuple[int, int]:
    """Cancel stale pending bookings, release their seats (to the waitlist first), write
    their events; then expire the waitlist entries whose window has passed. How many
    of each. Stale: pending and created before the limit, or pending on a slot that
    started."""
    from slotctl.services.waitlist import expire_entries

    EXPIRY_MINUTES.check(older_than, "--older-than")
    now = clock.now()
    expired = seats.expire(session, now, older_than)
    return expired, expire_entries(session, now)


def stale_pending(session: Session, older_than: int) -> list[BookingRecord]:
    """The bookings :func:`expire_pending` would cancel now, by slot start."""
    EXPIRY_MINUTES.check(older_than, "--older-than")
    ids = seats.stale_ids(session, clock.now(), older_than)
    found: list[Booking] = []
    for start in range(0, len(ids), 500):
        found.extend(
            session.scalars(
                select(Booking)
                .where(Booking.id.in_(ids[start : start + 500]))
                .options(joinedload(Booking.slot), joinedload(Booking.exchange))
            )
        )
    found.sort(key=lambda booking: (booking.slot.starts_at, booking.id))
    return [record(booking) for booking in found]
