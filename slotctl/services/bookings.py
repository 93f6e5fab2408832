"""Bookings: seats taken atomically, a strict lifecycle, and an audit trail.

A seat is taken by one conditional UPDATE of the slot in the same transaction
as the booking's INSERT (never read-then-write in Python), so two operators or
cron jobs can never take the last seat twice. A status change is a conditional
UPDATE of the booking from the statuses it may leave, so two concurrent changes
cannot both apply. Every change writes a ``booking_events`` row with its actor.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.db import seats
from slotctl.db.models import (
    ACTIVE_STATUSES,
    BOOKING_STATUSES,
    Booking,
    BookingEvent,
    Exchange,
    TimeSlot,
    UTCDateTime,
    new_uuid,
)
from slotctl.db.seats import NewRow
from slotctl.errors import Conflict, InvalidValue, NotFound
from slotctl.services.lookup import by_uuid, exchange_by_slug
from slotctl.services.records import booking_record
from slotctl.services.slots import local_date, local_window, resolve_slot

HISTORY_FIELDS = ("at", "actor", "from_status", "to_status", "note")
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_REFERENCE_RE = re.compile(r"^BK-[0-9A-Z]{6}$")
SYSTEM_ACTOR = "system"

# action -> (statuses it may leave, status it enters, needs the slot to have started)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "confirm": (("pending",), "confirmed", False),
    "complete": (("confirmed",), "completed", True),
    "no-show": (("confirmed",), "no_show", True),
    "cancel": (ACTIVE_STATUSES, "cancelled", False),
}


# Values ------------------------------------------------------------------------------


def normalise_email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue(f"invalid email {value!r}: {exc}") from None
    return result.normalized.lower()


def _text(value: str | None, what: str, limit: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidValue(f"{what} is required")
        return None
    cleaned = " ".join(value.split()) if what != "notes" else value.strip()
    if required and not cleaned:
        raise InvalidValue(f"{what} cannot be empty")
    if len(cleaned) > limit:
        raise InvalidValue(f"{what} is longer than {limit} characters")
    return cleaned or None


def validate_phone(value: str | None) -> str | None:
    phone = _text(value, "phone", 50)
    if phone is not None and not re.fullmatch(r"\+?[0-9 ()./-]{3,50}", phone):
        raise InvalidValue(f"invalid phone {value!r}: digits, spaces and + ( ) - . / only")
    return phone


def _draw_reference() -> str:
    """A short reference such as ``BK-7K3Q9X`` (32^6 of them; the insert re-draws a taken one)."""
    return "BK-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


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


def record(booking: Booking) -> dict[str, Any]:
    slot, exchange = booking.slot, booking.exchange
    return booking_record(booking, slot, exchange.slug, exchange.timezone)


# Taking and releasing seats -----------------------------------------------------------


def _refusal(slot: Any, exchange: Any, now: datetime) -> Conflict:
    """Why a seat could not be taken (read after the conditional UPDATE matched nothing)."""
    if slot.starts_at <= now:
        return Conflict(f"slot {_slot_text(slot, exchange)} is in the past")
    if slot.starts_at <= now + timedelta(minutes=exchange.min_notice_minutes):
        return Conflict(
            f"slot {_slot_text(slot, exchange)} is inside the minimum notice of "
            f"{exchange.min_notice_minutes} minutes"
        )
    if not slot.is_available:
        return Conflict(f"slot {_slot_text(slot, exchange)} is blocked")
    return Conflict(
        f"slot {_slot_text(slot, exchange)} is full ({slot.current_bookings}/{slot.max_capacity})"
    )


def _slot_text(slot: Any, exchange: Any) -> str:
    local = slot.starts_at.astimezone(ZoneInfo(exchange.timezone))
    return f"{exchange.slug}@{local:%Y-%m-%dT%H:%M}"


def _check_window(slot: Any, exchange: Any, now: datetime) -> None:
    if not exchange.is_active:
        raise Conflict(f"exchange {exchange.slug!r} is inactive and takes no bookings")
    if exchange.max_advance_days is not None and slot.starts_at > now + timedelta(
        days=exchange.max_advance_days
    ):
        raise Conflict(
            f"slot {_slot_text(slot, exchange)} is beyond the maximum advance of "
            f"{exchange.max_advance_days} days"
        )


def _check_customer(
    session: Session,
    slot: Any,
    exchange: Any,
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
            Booking.status.in_(ACTIVE_STATUSES),
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


def take_seat(session: Session, slot: TimeSlot, exchange: Exchange, now: datetime) -> None:
    """The one conditional statement that takes a seat, or a Conflict saying why not."""
    earliest = now + timedelta(minutes=exchange.min_notice_minutes)
    taken = session.execute(
        update(TimeSlot)
        .where(
            TimeSlot.id == slot.id,
            TimeSlot.current_bookings < TimeSlot.max_capacity,
            TimeSlot.is_available,
            TimeSlot.starts_at > earliest,
        )
        .values(current_bookings=TimeSlot.current_bookings + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        session.refresh(slot)
        raise _refusal(slot, exchange, now)


def release_seat(session: Session, slot_id: int, now: datetime) -> None:
    session.execute(
        update(TimeSlot)
        .where(TimeSlot.id == slot_id, TimeSlot.current_bookings > 0)
        .values(current_bookings=TimeSlot.current_bookings - 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _event(
    session: Session,
    booking_id: int,
    actor: str,
    from_status: str | None,
    to_status: str,
    note: str | None,
    now: datetime,
) -> None:
    session.add(
        BookingEvent(
            booking_id=booking_id,
            at=now,
            actor=actor,
            from_status=from_status,
            to_status=to_status,
            note=note,
            created_at=now,
            updated_at=now,
        )
    )


# Commands ----------------------------------------------------------------------------


@dataclass
class _SlotView:
    id: int
    uuid: str
    starts_at: datetime
    ends_at: datetime
    max_capacity: int
    current_bookings: int
    is_available: bool


@dataclass
class _ExchangeView:
    id: int
    slug: str
    timezone: str
    is_active: bool
    min_notice_minutes: int
    max_advance_days: int | None


def _slot_for_booking(session: Session, ident: str) -> tuple[_SlotView, _ExchangeView]:
    """The slot and its exchange as plain values: one raw query for a full uuid."""
    key = ident.strip().lower()
    if len(key) != 36:
        slot, _ = resolve_slot(session, ident)  # prefix or SLUG@time: the general path
        key = slot.uuid
    row = seats.slot_by_uuid(session.connection(), key)
    if row is None:
        raise NotFound(f"no slot {ident}")
    return _SlotView(*row[:7]), _ExchangeView(*row[7:])  # type: ignore[call-arg]


@dataclass
class NewBooking:
    name: str
    email: str
    phone: str | None = None
    notes: str | None = None
    confirm: bool = False
    allow_overlap: bool = False


def create_booking(
    session: Session, slot_ident: str, new: NewBooking, actor: str
) -> dict[str, Any]:
    name = _text(new.name, "name", 200, required=True)
    email = normalise_email(new.email)
    phone = validate_phone(new.phone)
    notes = _text(new.notes, "notes", 2000)
    slot, exchange = _slot_for_booking(session, slot_ident)
    now = clock.now()
    _check_window(slot, exchange, now)
    status = "confirmed" if new.confirm else "pending"
    row = NewRow(
        uuid=new_uuid(),
        reference=_draw_reference(),
        slot_id=slot.id,
        exchange_id=exchange.id,
        name=name or "",
        email=email,
        phone=phone,
        notes=notes,
        status=status,
        event_uuid=new_uuid(),
        actor=actor,
    )
    # On SQLite the reads above ran without the write lock; end them, so that the
    # write below starts a fresh transaction holding the lock only for its statements
    # (PostgreSQL locks the slot's row at the UPDATE either way).
    if session.get_bind().dialect.name == "sqlite":
        session.commit()
    booked = seats.book(
        session.connection(),
        row,
        earliest=now + timedelta(minutes=exchange.min_notice_minutes),
        now=now,
        overlap=None if new.allow_overlap else (slot.starts_at, slot.ends_at),
        active=ACTIVE_STATUSES,
        new_reference=_draw_reference,
    )
    if booked is None:  # full, blocked, too late, or the customer: find out which
        fresh, _ = _slot_for_booking(session, slot.uuid)
        _check_customer(session, fresh, exchange, email, allow_overlap=new.allow_overlap)
        raise _refusal(fresh, exchange, now)
    zone = ZoneInfo(exchange.timezone)
    return {
        "uuid": row.uuid,
        "reference": booked[1],
        "exchange": exchange.slug,
        "slot": slot.uuid,
        "starts_at": slot.starts_at.astimezone(zone),
        "ends_at": slot.ends_at.astimezone(zone),
        "customer_name": name,
        "customer_email": email,
        "customer_phone": phone,
        "notes": notes,
        "status": status,
        "created_at": now,
        "updated_at": now,
        "confirmed_at": now if new.confirm else None,
        "completed_at": None,
        "cancelled_at": None,
        "cancellation_reason": None,
    }


@dataclass
class Outcome:
    booking: str
    from_status: str
    to_status: str
    result: str  # "ok" or "refused"
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "booking": self.booking,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "result": self.result,
            "reason": self.reason,
        }


class BatchRefused(Conflict):
    """Some bookings of a batch were refused; nothing was applied."""

    def __init__(self, message: str, outcomes: list[Outcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


def transition(
    session: Session,
    action: str,
    idents: Sequence[str],
    actor: str,
    *,
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """Apply one lifecycle action to several bookings, all or nothing.

    Each booking is checked and changed with a conditional UPDATE; if any is
    refused the caller's transaction must be rolled back (``BatchRefused``
    carries every booking's outcome).
    """
    sources, target, needs_start = TRANSITIONS[action]
    note = _text(reason, "reason", 200)
    now = clock.now()
    outcomes: list[Outcome] = []
    changed: list[Booking] = []
    found = {b.id: b for b in (find_booking(session, ident) for ident in idents)}
    order = {booking_id: index for index, booking_id in enumerate(found)}
    # Rows are locked in id order, so concurrent batches cannot deadlock.
    for booking in sorted(found.values(), key=lambda b: b.id):
        current = booking.status
        refusal = None
        if current not in sources:
            refusal = f"cannot {action} a {current} booking"
        elif needs_start and booking.slot.starts_at > now:
            refusal = f"cannot {action} before the slot starts"
        if refusal is None:
            done = session.execute(
                update(Booking)
                .where(Booking.id == booking.id, Booking.status == current)
                .values(**_entering(target, now, note))
                .execution_options(synchronize_session=False)
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                refusal = "changed by someone else meanwhile; try again"
        if refusal is not None:
            outcomes.append(Outcome(booking.reference, current, target, "refused", refusal))
            continue
        if target == "cancelled":
            release_seat(session, booking.time_slot_id, now)
        _event(session, booking.id, actor, current, target, note, now)
        outcomes.append(Outcome(booking.reference, current, target, "ok"))
        changed.append(booking)
    by_reference = {b.reference: order[b.id] for b in found.values()}
    outcomes.sort(key=lambda o: by_reference[o.booking])
    refused = [o for o in outcomes if o.result == "refused"]
    if refused:
        first = refused[0]
        raise BatchRefused(
            f"{len(refused)} of {len(outcomes)} bookings refused ({first.booking}: "
            f"{first.reason}); nothing was changed",
            outcomes,
        )
    session.flush()
    for booking in changed:
        session.refresh(booking)
    return [record(booking) for booking in changed]


def _entering(target: str, now: datetime, note: str | None) -> dict[str, Any]:
    """The columns a booking entering ``target`` gets."""
    values: dict[str, Any] = {"status": target, "updated_at": now}
    stamp = {"confirmed": "confirmed_at", "completed": "completed_at", "cancelled": "cancelled_at"}
    if target in stamp:
        values[stamp[target]] = now
    if target == "cancelled":
        values["cancellation_reason"] = note
    return values


def move_booking(session: Session, ident: str, slot_ident: str, actor: str) -> dict[str, Any]:
    """Take the new seat and release the old one in one transaction."""
    booking = find_booking(session, ident)
    if booking.status not in ACTIVE_STATUSES:
        raise Conflict(f"cannot move a {booking.status} booking")
    slot, exchange = resolve_slot(session, slot_ident)
    if slot.id == booking.time_slot_id:
        raise Conflict(f"{booking.reference} is already on that slot")
    now = clock.now()
    _check_window(slot, exchange, now)
    _check_customer(
        session, slot, exchange, booking.customer_email, allow_overlap=False, ignore=booking.id
    )
    old_slot, old_exchange = booking.slot, booking.exchange
    # Lock both slots in id order: two moves in opposite directions must not deadlock.
    session.execute(
        select(TimeSlot.id)
        .where(TimeSlot.id.in_([old_slot.id, slot.id]))
        .order_by(TimeSlot.id)
        .with_for_update()
    ).all()
    take_seat(session, slot, exchange, now)
    moved = session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == booking.status)
        .values(time_slot_id=slot.id, exchange_id=exchange.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"{booking.reference} was changed by someone else meanwhile; try again")
    release_seat(session, old_slot.id, now)
    _event(
        session,
        booking.id,
        actor,
        booking.status,
        booking.status,
        f"moved from {_slot_text(old_slot, old_exchange)} to {_slot_text(slot, exchange)}",
        now,
    )
    session.flush()
    session.refresh(booking)
    return record(booking)


# Queries -----------------------------------------------------------------------------


@dataclass
class Filters:
    exchange: str | None = None
    customer: str | None = None
    status: str | None = None
    from_date: str | None = None
    to_date: str | None = None
    limit: int | None = None
    when: str | None = None  # "upcoming" or "history"
    default_timezone: str = "UTC"


@dataclass
class BookingPage:
    records: list[dict[str, Any]]
    more: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


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
        status = filters.status.strip().lower().replace("-", "_")
        if status not in BOOKING_STATUSES:
            raise InvalidValue(
                f"unknown status {filters.status!r}: use {', '.join(BOOKING_STATUSES)}"
            )
        query = query.where(Booking.status == status)
    first = local_date(filters.from_date, timezone)
    last = local_date(filters.to_date, timezone)
    if first is not None:
        query = query.where(TimeSlot.starts_at >= local_window(timezone, first, first)[0])
    if last is not None:
        query = query.where(TimeSlot.starts_at < local_window(timezone, last, last)[1])
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


def list_bookings(session: Session, filters: Filters) -> BookingPage:
    """Bookings by their slot's start, then creation. History keeps that order too, but
    a ``limit`` keeps its most recent bookings (the ones fetched first)."""
    if filters.limit is not None and filters.limit < 0:
        raise InvalidValue("--limit cannot be negative")
    query = _query(session, filters)
    if filters.limit:
        query = query.limit(filters.limit + 1)
    rows = session.execute(query).all()
    more = bool(filters.limit) and len(rows) > (filters.limit or 0)
    rows = rows[: filters.limit] if filters.limit else rows
    if filters.when == "history":  # fetched most recent first; listed in slot order
        rows = rows[::-1]
    return BookingPage(
        [booking_record(b, s, e.slug, e.timezone) for b, s, e in rows],
        more,
    )


def day_bookings(session: Session, slug: str, day: date | None) -> list[dict[str, Any]]:
    """The day's roster in slot order (today, the exchange's local date, by default)."""
    exchange = exchange_by_slug(session, slug)
    if day is None:
        day = clock.now().astimezone(ZoneInfo(exchange.timezone)).date()
    start, end = local_window(exchange.timezone, day, day)
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


def show_booking(session: Session, ident: str) -> dict[str, Any]:
    booking = find_booking(session, ident)
    result = record(booking)
    events = session.scalars(
        select(BookingEvent)
        .where(BookingEvent.booking_id == booking.id)
        .order_by(BookingEvent.at, BookingEvent.id)
    )
    result["history"] = [{key: getattr(event, key) for key in HISTORY_FIELDS} for event in events]
    return result


# Cron: expiry ------------------------------------------------------------------------


def _stale(now: datetime, older_than: int) -> Any:
    cutoff = now - timedelta(minutes=older_than)
    started = (
        select(TimeSlot.id)
        .where(TimeSlot.id == Booking.time_slot_id, TimeSlot.starts_at <= now)
        .exists()
    )
    return and_(Booking.status == "pending", (Booking.created_at < cutoff) | started)


_STALE_SQL = (
    "status = 'pending' AND (created_at < :cutoff OR EXISTS (SELECT 1 FROM time_slots s"
    " WHERE s.id = bookings.time_slot_id AND s.starts_at <= :now))"
)
_EVENT_COLUMNS = (
    "INSERT INTO booking_events (uuid, booking_id, at, actor, from_status, to_status, note,"
    " created_at, updated_at)"
)
# A canonical version 4 uuid made by SQLite itself.
_SQLITE_UUID = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||"
    " substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1)"
    " || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))"
)
_EXPIRE_SQLITE = (
    "DROP TABLE IF EXISTS temp.expired",
    f"CREATE TEMP TABLE expired AS SELECT id, time_slot_id FROM bookings WHERE {_STALE_SQL}",
    "UPDATE bookings SET status = 'cancelled', cancelled_at = :now,"
    " cancellation_reason = 'expired', updated_at = :now"
    " WHERE id IN (SELECT id FROM expired) AND status = 'pending'",
    "DROP TABLE IF EXISTS temp.released",
    "CREATE TEMP TABLE released (time_slot_id INTEGER PRIMARY KEY, n INTEGER)",
    "INSERT INTO released SELECT time_slot_id, count(*) FROM expired GROUP BY time_slot_id",
    "UPDATE time_slots SET current_bookings = current_bookings - r.n, updated_at = :now"
    " FROM released r WHERE r.time_slot_id = time_slots.id",
    f"{_EVENT_COLUMNS} SELECT {_SQLITE_UUID}, id, :now, 'system', 'pending', 'cancelled',"
    " 'expired', :now, :now FROM expired",
)
# One statement: the UPDATE's status test is on the row itself, so a run that waited
# for another run's row locks re-checks it and skips what the other already expired.
_EXPIRE_POSTGRES = (
    "WITH expired AS (UPDATE bookings SET status = 'cancelled', cancelled_at = :now,"
    f" cancellation_reason = 'expired', updated_at = :now WHERE {_STALE_SQL}"
    " RETURNING id, time_slot_id),"
    " released AS (UPDATE time_slots t SET current_bookings = t.current_bookings - c.n,"
    " updated_at = :now FROM (SELECT time_slot_id, count(*) AS n FROM expired"
    " GROUP BY time_slot_id) c WHERE t.id = c.time_slot_id)"
    f" {_EVENT_COLUMNS} SELECT gen_random_uuid()::text, id, :now, 'system', 'pending',"
    " 'cancelled', 'expired', :now, :now FROM expired"
)


def expire_pending(session: Session, older_than: int, *, dry_run: bool = False) -> int:
    """Cancel stale pending bookings, release their seats, write their events; how many.

    Set-based SQL, no row in Python: on PostgreSQL one statement; on SQLite a few
    statements over a temporary table inside the caller's (IMMEDIATE) transaction.
    Stale: pending and created before the limit, or pending on a slot that started.
    """
    if older_than < 1:
        raise InvalidValue("--older-than must be at least 1 minute")
    now = clock.now()
    if dry_run:
        condition = _stale(now, older_than)
        return int(session.scalar(select(func.count()).select_from(Booking).where(condition)) or 0)
    params = [
        bindparam("now", now, type_=UTCDateTime()),
        bindparam("cutoff", now - timedelta(minutes=older_than), type_=UTCDateTime()),
    ]
    if session.get_bind().dialect.name != "sqlite":
        result = session.execute(text(_EXPIRE_POSTGRES).bindparams(*params))
        return int(result.rowcount)  # type: ignore[attr-defined]
    expired = 0
    for statement in _EXPIRE_SQLITE:
        clause = text(statement)
        used = [p for p in params if f":{p.key}" in statement]
        result = session.execute(clause.bindparams(*used) if used else clause)
        if statement.startswith(_EVENT_COLUMNS):
            expired = int(result.rowcount)  # type: ignore[attr-defined]
    return expired
