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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, text, update
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
    if transition.stamp is not None:
        values[transition.stamp] = now
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
    if transition.releases_seat:
        release(session, booking.time_slot_id, now)
    event(session, booking.id, actor, booking.status, transition.target, note, now)
    return None


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
    expired = 0
    for statement in dialects.of(session).expire_statements(STALE, change, event):
        used = [b for b in binds if f":{b.key}" in statement]
        clause = text(statement)
        result = session.execute(
            clause.bindparams(*used) if used else clause,
            {key: value for key, value in params.items() if f":{key}" in statement},
        )
        expired = int(result.rowcount)  # type: ignore[attr-defined]
    return expired
