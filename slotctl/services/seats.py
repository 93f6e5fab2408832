"""Seats: the only code that takes or releases a seat, changes a booking's status
with its audit event, and recounts slot counters.

Every path that changes who holds a seat goes through here: ``bookings create``,
``move``, ``cancel`` and the other lifecycle commands, ``expire-pending``, import,
the demo and ``doctor --repair``. The rules come from :mod:`slotctl.domain`;
what differs between the databases from :mod:`slotctl.db.dialects`.

* A seat is taken by one conditional UPDATE of the slot (capacity, block, notice
  and the customer's other active bookings checked in the same statement), never
  read-then-write in Python, so two processes can never take the last seat twice.
* A status change is a conditional UPDATE of the booking from the status it was
  read in, so two concurrent changes cannot both apply; it writes one audit event.
* Counters are recounted from the seat-holding bookings by one set-based UPDATE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from slotctl import domain
from slotctl.db import dialects
from slotctl.db.models import Booking, UTCDateTime, new_uuid

HOLDING = ", ".join(f"'{status}'" for status in domain.SEAT_HOLDING_STATUSES)
ACTIVE = ", ".join(f"'{status}'" for status in domain.ACTIVE_STATUSES)
SYSTEM = "system"  # the actor of cron's changes


def _customer_clear(*, overlap: bool, ignore: bool) -> str:
    """SQL: the customer (``?`` email) holds no other active booking on this slot, or,
    with ``overlap``, on any slot overlapping it (``?`` ends_at, ``?`` starts_at)."""
    other = " AND b.id <> ?" if ignore else ""
    if not overlap:
        return (
            "NOT EXISTS (SELECT 1 FROM bookings b WHERE b.time_slot_id = time_slots.id"
            f" AND b.customer_email = ? AND b.status IN ({ACTIVE}){other})"
        )
    return (
        "NOT EXISTS (SELECT 1 FROM bookings b JOIN time_slots o ON o.id = b.time_slot_id"
        f" WHERE b.customer_email = ? AND b.status IN ({ACTIVE}){other}"
        " AND o.starts_at < ? AND o.ends_at > ?)"
    )


@dataclass(frozen=True)
class Claim:
    """A seat wanted on a slot: by whom, and which of the customer's bookings to check."""

    slot_id: int
    starts_at: datetime
    ends_at: datetime
    email: str
    earliest: datetime  # the slot must start after this (now plus the minimum notice)
    overlap: bool = True  # refuse when the customer holds an overlapping booking anywhere
    ignore: int | None = None  # a booking of the customer's not to count (the one moving)


def take(session: Session, claim: Claim, now: datetime) -> bool:
    """Take one seat of the slot, in the caller's transaction: False when the slot is
    full, blocked, too soon, or the customer already holds a booking there (see
    :func:`slotctl.domain.seat_refusal` for the reason)."""
    connection = session.connection()
    sql = dialects.of(connection)
    with sql.cursor(connection) as cursor:
        return _take(cursor, sql, claim, now)


@cache
def _take_statement(sql: dialects.Dialect, *, overlap: bool, ignore: bool) -> str:
    """The one conditional UPDATE that takes a seat (built once per form)."""
    return sql.placeholders(
        "UPDATE time_slots SET current_bookings = current_bookings + 1, updated_at = ?"
        " WHERE id = ? AND current_bookings < max_capacity AND is_available"
        " AND starts_at > ? AND " + _customer_clear(overlap=overlap, ignore=ignore)
    )


def _take(cursor: Any, sql: dialects.Dialect, claim: Claim, now: datetime) -> bool:
    params: list[Any] = [sql.stamp(now), claim.slot_id, sql.stamp(claim.earliest), claim.email]
    if claim.ignore is not None:
        params.append(claim.ignore)
    if claim.overlap:
        params += [sql.stamp(claim.ends_at), sql.stamp(claim.starts_at)]
    statement = _take_statement(sql, overlap=claim.overlap, ignore=claim.ignore is not None)
    cursor.execute(statement, params)
    return bool(cursor.rowcount == 1)


def release(session: Session, slot_id: int, now: datetime) -> None:
    """Give back one seat of the slot."""
    session.execute(
        text(
            "UPDATE time_slots SET current_bookings = current_bookings - 1, updated_at = :now"
            " WHERE id = :id AND current_bookings > 0"
        ).bindparams(bindparam("now", now, type_=UTCDateTime())),
        {"id": slot_id},
    )


@dataclass(frozen=True)
class NewBooking:
    """A booking to insert with the seat it takes (values already validated)."""

    reference: str
    exchange_id: int
    name: str
    email: str
    phone: str | None
    notes: str | None
    status: str  # pending or confirmed
    actor: str
    uuid: str = ""
    note: str = "created"  # of its first history entry


def book(
    session: Session, claim: Claim, new: NewBooking, now: datetime, draw: Callable[[], str]
) -> tuple[int, str, str] | None:
    """Take a seat and insert the booking and its 'created' event: (id, reference,
    uuid), or None when the seat was refused. Three statements, as a hand-written
    driver loop would issue them: the write lock (SQLite) or the slot's row lock
    (PostgreSQL) is held for no longer. A reference already in use is drawn again."""
    connection = session.connection()
    sql = dialects.of(connection)
    confirmed = domain.created_stamps(new.status, now)["confirmed_at"]
    values = {
        "uuid": new.uuid or new_uuid(),
        "reference": new.reference,
        "slot": claim.slot_id,
        "exchange": new.exchange_id,
        "name": new.name,
        "email": new.email,
        "phone": new.phone,
        "notes": new.notes,
        "status": new.status,
        "confirmed": None if confirmed is None else sql.stamp(confirmed),
        "now": sql.stamp(now),
        "event": new_uuid(),
        "actor": new.actor,
        "note": new.note,
    }
    with sql.cursor(connection) as cursor:
        if not _take(cursor, sql, claim, now):
            return None
        while (booking_id := sql.insert_booking(cursor, values)) is None:
            values["reference"] = draw()  # one in a billion: the reference was taken
    return booking_id, str(values["reference"]), str(values["uuid"])


def change_status(
    session: Session,
    booking: Booking,
    transition: domain.Transition,
    actor: str,
    note: str | None,
    now: datetime,
) -> str | None:
    """Apply ``transition`` to the booking as it was read: releases its seat when the
    transition does, writes its audit event. None when done, else why not (another
    process changed the booking meanwhile)."""
    values: dict[str, Any] = {"status": transition.target, "updated_at": now}
    has = {column: getattr(booking, column) for column in domain.STAMP_COLUMNS}
    for column in domain.stamps_to_set(transition, has):
        values[column] = now
    if transition.target == domain.CANCELLED:
        values["cancellation_reason"] = note
    done = session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == booking.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        return "changed by someone else meanwhile; try again"
    event(session, booking.id, actor, booking.status, transition.target, note, now)
    if booking.status == domain.ARRIVED:
        _follow_ticket(session, booking.id, domain.TICKET_AFTER_BOOKING[transition.target], now)
    if transition.releases_seat:
        release(session, booking.time_slot_id, now)
        promote(session, [booking.time_slot_id], now)
    return None


def _follow_ticket(session: Session, booking_id: int, status: str, now: datetime) -> None:
    """The booking's queued ticket leaves the queue with it (served, no-show or left)."""
    from slotctl.db.models import Ticket

    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == domain.SERVED:
        values["served_at"] = now
    session.execute(
        update(Ticket)
        .where(Ticket.booking_id == booking_id, Ticket.status.in_(domain.QUEUED_STATUSES))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def event(
    session: Session,
    booking_id: int,
    actor: str,
    from_status: str | None,
    to_status: str,
    note: str | None,
    now: datetime,
) -> None:
    """One audit event of one booking."""
    session.execute(
        text(
            f"INSERT INTO booking_events ({dialects.EVENT_COLUMNS}) VALUES (:uuid, :booking,"
            " :now, :actor, :from_status, :to_status, :note, :now, :now)"
        ).bindparams(bindparam("now", now, type_=UTCDateTime())),
        {
            "uuid": new_uuid(),
            "booking": booking_id,
            "actor": actor,
            "from_status": from_status,
            "to_status": to_status,
            "note": note,
        },
    )


def events(
    session: Session,
    rows: str,
    *,
    actor: str,
    note: str,
    now: datetime,
    params: Mapping[str, Any] | None = None,
) -> None:
    """One audit event for each ``(booking_id, from_status, to_status)`` row of the
    query ``rows``, set-based. Their uuids increase with the booking id (the clock,
    a number drawn once, then the id), so a million of them append to their index."""
    import secrets

    ms = int(now.timestamp() * 1000) % (1 << 48)
    draw = secrets.randbits(24)
    prefix = f"{ms:012x}"
    prefix = f"{prefix[:8]}-{prefix[8:]}-7{draw >> 12:03x}-{0x8000 | (draw & 0xFFF):04x}-"
    uuid = dialects.of(session).sequential_uuid(prefix, "r.booking_id")
    session.execute(
        text(
            f"INSERT INTO booking_events ({dialects.EVENT_COLUMNS}) SELECT {uuid}, r.booking_id,"
            " :now, :actor, r.from_status, r.to_status, :note, :now, :now FROM"
            f" ({rows}) r"
        ).bindparams(bindparam("now", now, type_=UTCDateTime())),
        {"actor": actor, "note": note, **(params or {})},
    )


def recount(session: Session, now: datetime, slots: str | None = None) -> int:
    """Set ``current_bookings`` from the seat-holding bookings, for the slots whose id
    the subquery ``slots`` gives (every slot when None) and whose count is wrong; how
    many changed. The capacity CHECK refuses a count above capacity (overbooking)."""
    count = (
        "(SELECT count(*) FROM bookings b WHERE b.time_slot_id = time_slots.id"
        f" AND b.status IN ({HOLDING}))"
    )
    where = f"id IN ({slots}) AND " if slots is not None else ""
    result = session.execute(
        text(
            f"UPDATE time_slots SET current_bookings = {count}, updated_at = :now"
            f" WHERE {where}current_bookings <> {count}"
        ).bindparams(bindparam("now", now, type_=UTCDateTime()))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def stamp_problem_sql(alias: str) -> str:
    """SQL: how the timestamps of the booking row ``alias`` contradict its status
    (:data:`slotctl.domain.STAMPS`, in the words of :func:`slotctl.domain.stamp_message`),
    or null when they agree."""
    branches = []
    for status, stamps in domain.STAMPS.items():
        checks = [
            f"WHEN {alias}.{column} IS {'' if wanted else 'NOT '}NULL"
            f" THEN '{domain.stamp_message(status, column, wanted)}'"
            for column, wanted in stamps.items()
            if wanted is not None
        ]
        branches.append(f"WHEN '{status}' THEN CASE {' '.join(checks)} END")
    return f"CASE {alias}.status {' '.join(branches)} END"


def slot_status_sql(alias: str, now: str) -> str:
    """SQL giving :func:`slotctl.domain.slot_status` of the slot row ``alias`` at the
    instant parameter ``now``."""
    return (
        f"CASE WHEN {alias}.starts_at <= {now} THEN 'past'"
        f" WHEN NOT {alias}.is_available THEN 'blocked'"
        f" WHEN {alias}.current_bookings >= {alias}.max_capacity THEN 'full'"
        " ELSE 'available' END"
    )


EXPIRY = domain.TRANSITIONS["cancel"]  # what expiring a stale pending booking is
EXPIRED = "expired"  # its reason

# Stale: pending and created before the cutoff, or pending on a slot that has started.
# (The status is a literal: it matches the partial index of pending bookings.)
STALE = (
    f"status = '{domain.PENDING}' AND (created_at < :cutoff OR EXISTS (SELECT 1 FROM"
    " time_slots s WHERE s.id = bookings.time_slot_id AND s.starts_at <= :now))"
)


def _stale_binds(now: datetime, older_than: int) -> list[BindParameter[Any]]:
    return [
        bindparam("now", now, type_=UTCDateTime()),
        bindparam("cutoff", now - timedelta(minutes=older_than), type_=UTCDateTime()),
    ]


def stale_ids(session: Session, now: datetime, older_than: int) -> list[int]:
    """The ids of the bookings :func:`expire` would cancel now (a dry run's listing)."""
    query = text(f"SELECT id FROM bookings WHERE {STALE}").bindparams(
        *_stale_binds(now, older_than)
    )
    return list(session.scalars(query))


def expire(session: Session, now: datetime, older_than: int) -> int:
    """Cancel the stale pending bookings (created more than ``older_than`` minutes ago,
    or on a slot that has started), release their seats, write their events; how many.
    Set-based SQL, no row in Python (:func:`stale_ids` lists them for a dry run)."""
    assert domain.PENDING in EXPIRY.sources
    assert EXPIRY.stamp is not None
    binds = _stale_binds(now, older_than)
    change = (
        f"status = '{EXPIRY.target}', {EXPIRY.stamp} = :now, cancellation_reason = :reason,"
        " updated_at = :now"
    )
    event = f":now, :actor, '{domain.PENDING}', '{EXPIRY.target}', :reason, :now, :now"
    params = {"actor": SYSTEM, "reason": EXPIRED}
    freed = session.scalars(
        text(
            f"SELECT DISTINCT time_slot_id FROM bookings WHERE {STALE} AND EXISTS (SELECT 1"
            " FROM waitlist_entries w WHERE w.exchange_id = bookings.exchange_id"
            f" AND w.status = '{domain.ENTRY_WAITING}')"
        ).bindparams(*binds)
    ).all()
    expired = 0
    for statement in dialects.of(session).expire_statements(STALE, change, event):
        used = [b for b in binds if f":{b.key}" in statement]
        clause = text(statement)
        result = session.execute(
            clause.bindparams(*used) if used else clause,
            {key: value for key, value in params.items() if f":{key}" in statement},
        )
        expired = int(result.rowcount)  # type: ignore[attr-defined]
    promote(session, freed, now)
    return expired


# The waitlist: a freed seat goes to the earliest matching entry ------------------------


@dataclass(frozen=True)
class _FreeSlot:
    id: int
    exchange_id: int
    day: Any
    starts_at: datetime
    ends_at: datetime
    free: int
    earliest: datetime  # the slot must start after this (now plus the minimum notice)
    minutes: tuple[int, int]  # local start and end, in minutes of its day


def _free_slots(session: Session, where: Any, now: datetime) -> list[_FreeSlot]:
    """The slots (``where``) with a free seat that a customer may book now: available,
    of an active exchange, after the minimum notice and within the maximum advance; by
    start."""
    from zoneinfo import ZoneInfo

    from slotctl.db.models import Exchange, TimeSlot
    from slotctl.localtime import minutes_of_day

    rows = session.execute(
        select(
            TimeSlot.id,
            TimeSlot.exchange_id,
            TimeSlot.date,
            TimeSlot.starts_at,
            TimeSlot.ends_at,
            TimeSlot.max_capacity - TimeSlot.current_bookings,
            Exchange.min_notice_minutes,
            Exchange.max_advance_days,
            Exchange.timezone,
        )
        .join(Exchange, Exchange.id == TimeSlot.exchange_id)
        .where(
            where,
            TimeSlot.current_bookings < TimeSlot.max_capacity,
            TimeSlot.is_available,
            Exchange.is_active,
            TimeSlot.starts_at > now,
        )
        .order_by(TimeSlot.starts_at, TimeSlot.id)
    ).all()
    found = []
    for slot_id, exchange_id, day, starts_at, ends_at, free, notice, advance, zone in rows:
        earliest, latest = domain.booking_window(now, notice, advance)
        if starts_at <= earliest or (latest is not None and starts_at > latest):
            continue
        local = ZoneInfo(zone)
        found.append(
            _FreeSlot(
                slot_id, exchange_id, day, starts_at, ends_at, free, earliest,
                minutes_of_day(starts_at.astimezone(local), ends_at.astimezone(local)),
            )
        )  # fmt: skip
    return found


@dataclass(frozen=True)
class _Entry:
    id: int
    name: str
    email: str
    phone: str | None
    first: Any
    last: Any
    between: tuple[int, int] | None


ENTRY_PAGE = 64  # waiting entries read at a time: a freed seat is usually given in the first


def _entry_rows(session: Session, *where: Any) -> Iterator[_Entry]:
    """The waiting entries (``where``), first come first, read a page at a time."""
    from slotctl.db.models import WaitlistEntry as W
    from slotctl.localtime import between_minutes

    query = (
        select(
            W.id,
            W.customer_name,
            W.customer_email,
            W.customer_phone,
            W.from_date,
            W.to_date,
            W.between_start,
            W.between_end,
            W.created_at,
        )
        .where(W.status == domain.ENTRY_WAITING, *where)
        .order_by(W.created_at, W.id)
        .limit(ENTRY_PAGE)
    )
    page = query
    while True:  # keyset pages: entries given a seat meanwhile do not shift the next page
        rows = session.execute(page).all()
        for i, name, email, phone, first, last, a, b, _ in rows:
            yield _Entry(i, name, email, phone, first, last, between_minutes(a, b))
        if len(rows) < ENTRY_PAGE:
            return
        last_id, created = rows[-1][0], rows[-1][-1]
        page = query.where(
            (W.created_at > created) | ((W.created_at == created) & (W.id > last_id))
        )


def _give(session: Session, slot: _FreeSlot, entry: _Entry, now: datetime) -> bool:
    """Book the entry's customer on the slot (pending, actor ``waitlist``) and mark the
    entry booked; False (nothing changed) when the entry was taken meanwhile or the
    seat is refused (full, or the customer holds an overlapping booking)."""
    from slotctl.db.models import WaitlistEntry

    # The entry's row is locked before it is taken (PostgreSQL): a transaction giving a
    # seat to the same entry right now is waited for, never passed over, so the line
    # keeps its order even when that transaction rolls back (SQLite has one writer).
    free = session.scalar(
        select(WaitlistEntry.id)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == domain.ENTRY_WAITING)
        .with_for_update()
    )
    if free is None:
        return False
    taken = session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == domain.ENTRY_WAITING)
        .values(status=domain.BOOKED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        return False
    claim = Claim(slot.id, slot.starts_at, slot.ends_at, entry.email, slot.earliest)
    new = NewBooking(
        domain.draw_reference(), slot.exchange_id, entry.name, entry.email, entry.phone,
        None, domain.PENDING, domain.WAITLIST_ACTOR, note=domain.WAITLIST_NOTE,
    )  # fmt: skip
    booked = book(session, claim, new, now, domain.draw_reference)
    if booked is None:
        session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry.id)
            .values(status=domain.ENTRY_WAITING)
            .execution_options(synchronize_session=False)
        )
        return False
    session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id)
        .values(booking_id=booked[0])
        .execution_options(synchronize_session=False)
    )
    return True


def _window_sql(slot: _FreeSlot) -> tuple[Any, ...]:
    """SQL narrowing the waiting entries to those whose window the slot may lie in (its
    exchange, date and local hours), so a long waitlist is not read row by row;
    :func:`slotctl.domain.entry_matches` still decides each row read. Times compare as
    ``HH:MM`` text (``24:00`` last)."""
    from slotctl.db.models import WaitlistEntry as W
    from slotctl.parsing import format_time

    start, end = (format_time(minute) for minute in slot.minutes)
    return (
        W.exchange_id == slot.exchange_id,
        W.from_date <= slot.day,
        W.to_date >= slot.day,
        W.between_start.is_(None) | ((W.between_start <= start) & (W.between_end >= end)),
    )


def promote(session: Session, slot_ids: Any, now: datetime) -> int:
    """Give the free seats of these slots to the waiting entries whose window they lie
    in, earliest entry first (first come, first served), in the caller's transaction:
    the seat is taken through :func:`book` like any other. How many were booked."""
    from slotctl.db.models import TimeSlot
    from slotctl.db.models import WaitlistEntry as W

    ids = sorted(set(slot_ids))
    if not ids:
        return 0
    waiting = (
        select(W.id)
        .where(W.exchange_id == TimeSlot.exchange_id, W.status == domain.ENTRY_WAITING)
        .exists()
    )
    given = 0
    for slot in _free_slots(session, TimeSlot.id.in_(ids) & waiting, now):
        free = slot.free
        for entry in _entry_rows(session, *_window_sql(slot)):
            if free <= 0:
                break
            if domain.entry_matches(
                slot.day, slot.minutes, entry.first, entry.last, entry.between
            ) and _give(session, slot, entry, now):
                free -= 1
                given += 1
    return given


def promote_entries(
    session: Session, exchange_id: int, now: datetime, only: int | None = None
) -> int:
    """Give each waiting entry of the exchange (or only the entry ``only``, just added),
    earliest first, the earliest free seat in its window (after an entry is added,
    slots generated, the exchange made active). How many were booked."""
    from slotctl.db.models import TimeSlot
    from slotctl.db.models import WaitlistEntry as W

    where = [W.exchange_id == exchange_id] + ([] if only is None else [W.id == only])
    entries = list(_entry_rows(session, *where))
    if not entries:
        return 0
    first, last = min(e.first for e in entries), max(e.last for e in entries)
    window = (TimeSlot.exchange_id == exchange_id) & TimeSlot.date.between(first, last)
    slots = _free_slots(session, window, now)
    free = {slot.id: slot.free for slot in slots}
    given = 0
    for entry in entries:
        for slot in slots:
            if (
                free[slot.id] > 0
                and domain.entry_matches(
                    slot.day, slot.minutes, entry.first, entry.last, entry.between
                )
                and _give(session, slot, entry, now)
            ):
                free[slot.id] -= 1
                given += 1
                break
    return given
