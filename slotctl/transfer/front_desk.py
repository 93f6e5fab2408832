"""Import of the front desk's records: tickets (``queue import``) and waitlist entries
(``waitlist import``).

Both are small by nature (a day's queue, the customers waiting for a seat) and go
through the ORM (:mod:`.small`), each cell parsed with the validators of the commands
that make them (:mod:`slotctl.domain`, the cell parsers of :mod:`.cells`). A row names
its exchange by slug and its booking by reference; what a record derives (a ticket's
day, whether it came on time, an appointment's contact details; ``waited_minutes``) is
computed as the commands compute it, never read from the file.

An import restores records as the file has them: it issues no ticket number and gives
no seat to the waitlist (a freed seat goes to the waitlist when a command frees it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.db.models import Booking, Exchange, Ticket, TimeSlot, WaitlistEntry
from slotctl.errors import InvalidValue
from slotctl.parsing import format_time, parse_time_range
from slotctl.records import EntryRecord, TicketRecord
from slotctl.services.queue import COUNTER_LIMIT, local_day
from slotctl.tabular import Row, Source
from slotctl.transfer.cells import (
    ImportResult,
    Reasons,
    cell_date,
    cell_instant,
    cell_optional_instant,
)
from slotctl.transfer.small import LOOKUP, Item, Small, apply, collect, existing_rows, shown

BOOKING = "booking"  # a row's booking reference, until the file's bookings are looked up


@dataclass(frozen=True)
class _Booking:
    """What a ticket or an entry needs of the booking it names."""

    id: int
    reference: str
    exchange_id: int
    status: str
    email: str
    phone: str | None
    starts_at: datetime


class _Bookings:
    """The bookings the rows name, by reference and by id, looked up a batch at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_reference: dict[str, _Booking] = {}
        self.by_id: dict[int, _Booking] = {}

    def load(self, references: Iterable[str], ids: Iterable[int | None]) -> None:
        query = select(
            Booking.id,
            Booking.reference,
            Booking.exchange_id,
            Booking.status,
            Booking.customer_email,
            Booking.customer_phone,
            TimeSlot.starts_at,
        ).join(TimeSlot, TimeSlot.id == Booking.time_slot_id)
        for column, wanted in (
            (Booking.reference, sorted(set(references))),
            (Booking.id, sorted({i for i in ids if i is not None})),
        ):
            for start in range(0, len(wanted), LOOKUP):
                chunk = wanted[start : start + LOOKUP]
                for row in self.session.execute(query.where(column.in_(chunk))):
                    booking = _Booking(*row)
                    self.by_reference[booking.reference] = booking
                    self.by_id[booking.id] = booking

    def reference(self, booking_id: int | None) -> str | None:
        booking = self.by_id.get(booking_id) if booking_id is not None else None
        return None if booking is None else booking.reference


def _exchanges(session: Session) -> dict[int, Exchange]:
    return {e.id: e for e in session.scalars(select(Exchange))}


def _resolve(
    given: dict[str, Any], stored: Any, bookings: _Bookings, exchange_id: int | None
) -> tuple[_Booking | None, list[str]]:
    """The booking a row names (its ``booking`` cell; without the column, the stored
    record's) and what is wrong with it: unknown, or at another exchange."""
    if BOOKING not in given:
        stored_id = getattr(stored, "booking_id", None)
        return (bookings.by_id.get(stored_id) if stored_id is not None else None), []
    reference = given.pop(BOOKING)
    if reference is None:
        return None, []
    booking = bookings.by_reference.get(reference)
    if booking is None:
        return None, [f"no booking {reference!r}"]
    if booking.exchange_id != exchange_id:
        return booking, [f"booking {reference} is at another exchange"]
    return booking, []


def _status(text: str, statuses: tuple[str, ...]) -> str:
    """A status as a person types it (``no-show``, ``Served``)."""
    status = text.strip().lower().replace("-", "_")
    if status not in statuses:
        raise InvalidValue(f"unknown status {text.strip()!r}: use {', '.join(statuses)}")
    return status


def _local(value: Any, zone: ZoneInfo) -> Any:
    return value.astimezone(zone).isoformat() if isinstance(value, datetime) else value


# Tickets ----------------------------------------------------------------------------------

# What each ticket status holds, as the queue commands leave it: a waiting ticket has not
# been called (a requeue clears the call), a called one has its counter and call time,
# and only a served one was served.
TICKET_HOLDS = domain.TICKET_STAMPS  # which call columns each ticket status has


def _number(text: str) -> tuple[str, int]:
    parsed = domain.parse_ticket_number(text)
    if parsed is None:
        raise InvalidValue(f"number: {text.strip()!r} is not a ticket number (A001, W012)")
    return parsed


def _kind(text: str) -> str:
    kind = text.strip().lower()
    if kind not in domain.TICKET_KINDS:
        raise InvalidValue(f"kind: {text.strip()!r} is not {' or '.join(domain.TICKET_KINDS)}")
    return kind


def _counter(text: str) -> str | None:
    return domain.clean_text(text or None, "counter", COUNTER_LIMIT)


def _ticket_row(row: Row, small: Small) -> Item:
    """A ticket row's values as given (the model's columns; ``booking``: the reference)."""
    v = row.values
    get = v.get
    r = Reasons()
    uuid = r(small.unique_uuid, row)
    values: dict[str, Any] = {"exchange_id": r(small.exchange_id, row)}
    number = r(_number, v["number"])
    if number is not None:
        values["kind"], values["seq"] = number
    kind_text = get("kind", "").strip()
    if kind_text:
        kind = r(_kind, kind_text)
        if kind is not None and number is not None and kind != number[0]:
            r.add(f"kind {kind} does not match number {v['number'].strip()}")
    if "booking" in v:
        values[BOOKING] = v["booking"].strip() or None
    values["customer_name"] = r(domain.customer_name, v["customer_name"], "customer_name")
    if get("status", "").strip():
        values["status"] = r(_status, v["status"], domain.TICKET_STATUSES)
    values["arrived_at"] = r(cell_instant, v["arrived_at"], "arrived_at")
    for column in ("called_at", "served_at", "due_at"):
        if column in v:
            values[column] = r(cell_optional_instant, v[column], column)
    if "counter" in v:
        values["counter"] = r(_counter, v["counter"])
    r.raise_if_any()  # waited_minutes is derived: ignored
    return uuid, values, row.line


def import_tickets(
    session: Session, stream: Source, *, dry_run: bool = False, accept_changes: bool = False
) -> ImportResult:
    """Import a tickets file: each row's exchange (slug) and booking (reference: an
    appointment's, of the same exchange; a walk-in has none) must exist; its number
    gives its kind and sequence, its day is the exchange's local date of its arrival."""
    exchanges = _exchanges(session)
    items, small = collect(
        stream, "tickets", _ticket_row, {e.slug: e.id for e in exchanges.values()}
    )
    stored = existing_rows(session, Ticket, [u for u, _, _ in items if u is not None])
    bookings = _Bookings(session)
    bookings.load(
        (values[BOOKING] for _, values, _ in items if values.get(BOOKING)),
        (row.booking_id for row in stored.values()),
    )
    keys: dict[tuple[int, date, str, int], int] = {}
    for uuid, values, line in items:
        row = stored.get(uuid) if uuid is not None else None
        for problem in _ticket(values, row, exchanges[values["exchange_id"]], bookings):
            small.problems.add(line, problem)
        key = (values["exchange_id"], values["day"], values["kind"], values["seq"])
        if key in keys:
            small.problems.add(
                line, f"duplicate ticket {_name(key, exchanges)} (also on line {keys[key]})"
            )
        else:
            keys[key] = line
    for key, line, other in _taken(session, keys, {u for u, _, _ in items if u in stored}):
        small.problems.add(
            line, f"ticket {_name(key, exchanges)} exists with another uuid ({other})"
        )

    def describe(ticket: Ticket) -> str:  # downtown/A001 2027-03-01
        key = (ticket.exchange_id, ticket.day, ticket.kind, ticket.seq)
        return _name(key, exchanges)

    def listing(ticket: Ticket, changed: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
        """The changed fields of the ticket's record, instants in its exchange's time."""
        after = {c: changed.get(c, getattr(ticket, c)) for c in ("exchange_id", "kind", "seq")}
        old_zone = ZoneInfo(exchanges[ticket.exchange_id].timezone)
        new_zone = ZoneInfo(exchanges[after["exchange_id"]].timezone)
        for field in TicketRecord.FIELDS:
            old: Any
            new: Any
            if field == "number":
                old = domain.ticket_number(ticket.kind, ticket.seq)
                new = domain.ticket_number(after["kind"], after["seq"])
            elif field == "exchange":
                old = exchanges[ticket.exchange_id].slug
                new = exchanges[after["exchange_id"]].slug
            elif field == "booking":
                old = bookings.reference(ticket.booking_id)
                new = bookings.reference(changed.get("booking_id", ticket.booking_id))
            elif field in changed:
                old = _local(getattr(ticket, field), old_zone)
                new = _local(changed[field], new_zone)
            else:
                continue
            if old != new:
                yield field, old, new

    return apply(
        session,
        "tickets",
        Ticket,
        items,
        small,
        describe,
        dry_run=dry_run,
        accept_changes=accept_changes,
        listing=listing,
    )


def _name(key: tuple[int, date, str, int], exchanges: dict[int, Exchange]) -> str:
    exchange_id, day, kind, seq = key
    return f"{exchanges[exchange_id].slug}/{domain.ticket_number(kind, seq)} {day}"


def _ticket(
    values: dict[str, Any], row: Ticket | None, exchange: Exchange, bookings: _Bookings
) -> list[str]:
    """Complete a ticket row's values from its stored ticket (``row``, for the columns
    the file leaves out), its booking and its exchange; what is wrong with it."""
    booking, problems = _resolve(values, row, bookings, exchange.id)
    kind = values["kind"]
    values["booking_id"] = None if booking is None else booking.id
    if kind == domain.WALKIN and (booking is not None or problems):
        problems = ["a walk-in ticket has no booking"]
    elif kind == domain.APPOINTMENT and booking is None and not problems:
        problems.append("an appointment ticket needs its booking (the booking's reference)")

    def final(column: str) -> Any:
        if column in values:
            return values[column]
        return None if row is None else getattr(row, column)

    due = final("due_at")
    if kind == domain.WALKIN and due is not None:
        problems.append("a walk-in ticket has no due_at")
    rebooked = row is not None and values["booking_id"] != row.booking_id
    if kind == domain.APPOINTMENT and booking is not None:  # as at check-in: the slot's start
        due = booking.starts_at if due is None or (rebooked and "due_at" not in values) else due
    values["due_at"] = due
    status = values.get("status") or (row.status if row is not None else domain.WAITING)
    values["status"] = status
    for column, wanted in TICKET_HOLDS[status].items():
        if wanted is not None and (final(column) is not None) != wanted:
            problems.append(f"a {status} ticket {'needs' if wanted else 'has no'} {column}")
    if (
        status in domain.QUEUED_STATUSES
        and booking is not None
        and booking.status != domain.ARRIVED
    ):
        problems.append(
            f"a {status} ticket's booking must be {domain.ARRIVED} ({booking.reference} is"
            f" {booking.status})"
        )
    arrived = values["arrived_at"]
    moved = row is None or arrived != row.arrived_at or exchange.id != row.exchange_id
    values["day"] = local_day(exchange.timezone, arrived) if moved else row.day  # type: ignore[union-attr]
    if row is None or moved or due != row.due_at:
        values["on_time"] = domain.on_time(due, arrived, exchange.late_after_minutes)
    if row is None or values["booking_id"] != row.booking_id:
        values["customer_email"] = None if booking is None else booking.email
        values["customer_phone"] = None if booking is None else booking.phone
    return problems


def _taken(
    session: Session, keys: dict[tuple[int, date, str, int], int], updated: set[str | None]
) -> Iterator[tuple[tuple[int, date, str, int], int, str]]:
    """The numbers of the file that other stored tickets (not in the file) have:
    ``(key, line, their uuid)``."""
    days: dict[int, set[date]] = {}
    for exchange_id, day, _, _ in keys:
        days.setdefault(exchange_id, set()).add(day)
    for exchange_id, wanted in days.items():
        ordered = sorted(wanted)
        for start in range(0, len(ordered), LOOKUP):
            rows = session.execute(
                select(Ticket.uuid, Ticket.day, Ticket.kind, Ticket.seq).where(
                    Ticket.exchange_id == exchange_id,
                    Ticket.day.in_(ordered[start : start + LOOKUP]),
                )
            )
            for uuid, day, kind, seq in rows:
                key = (exchange_id, day, kind, seq)
                if key in keys and uuid not in updated:
                    yield key, keys[key], uuid


# Waitlist entries -------------------------------------------------------------------------

# An entry's fields that are one column of its model each (that column, where named).
ENTRY_COLUMNS = {"from": "from_date", "to": "to_date"}
ENTRY_PLAIN = tuple(
    f for f in EntryRecord.FIELDS if f not in ("uuid", "exchange", "between", "booking")
)


def _between(text: str) -> tuple[str, str]:
    try:
        start, end = parse_time_range(text)
    except InvalidValue as exc:
        raise InvalidValue(f"between: {exc.message}") from None
    return format_time(start), format_time(end)


def _email(text: str) -> str:
    if not text.strip():
        raise InvalidValue("customer_email is required")
    return domain.email(text)


def _entry_row(row: Row, small: Small) -> Item:
    """A waitlist row's values as given (the model's columns; ``booking``: the reference)."""
    v = row.values
    get = v.get
    r = Reasons()
    uuid = r(small.unique_uuid, row)
    values: dict[str, Any] = {
        "exchange_id": r(small.exchange_id, row),
        "customer_name": r(domain.customer_name, v["customer_name"], "customer_name"),
        "customer_email": r(_email, v["customer_email"]),
    }
    if "customer_phone" in v:
        values["customer_phone"] = r(domain.phone, v["customer_phone"] or None)
    first = values["from_date"] = r(cell_date, v["from"], "from")
    last = values["to_date"] = r(cell_date, v["to"], "to")
    if first is not None and last is not None and last < first:
        r.add("to is before from")
    if "between" in v:
        between = r(_between, v["between"]) if v["between"].strip() else (None, None)
        if between is not None:
            values["between_start"], values["between_end"] = between
    if get("status", "").strip():
        values["status"] = r(_status, v["status"], domain.ENTRY_STATUSES)
    if "booking" in v:
        values[BOOKING] = v["booking"].strip() or None
    if get("created_at", "").strip():
        values["created_at"] = r(cell_instant, v["created_at"], "created_at")
    r.raise_if_any()
    return uuid, values, row.line


def import_waitlist(
    session: Session, stream: Source, *, dry_run: bool = False, accept_changes: bool = False
) -> ImportResult:
    """Import a waitlist file: each row's exchange (slug) must exist, and a booked
    entry names the booking it was given (reference, of the same exchange)."""
    exchanges = _exchanges(session)
    slugs = {e.id: e.slug for e in exchanges.values()}
    items, small = collect(stream, "waitlist", _entry_row, {s: i for i, s in slugs.items()})
    stored = existing_rows(session, WaitlistEntry, [u for u, _, _ in items if u is not None])
    bookings = _Bookings(session)
    bookings.load(
        (values[BOOKING] for _, values, _ in items if values.get(BOOKING)),
        (row.booking_id for row in stored.values()),
    )
    for uuid, values, line in items:
        row = stored.get(uuid) if uuid is not None else None
        booking, problems = _resolve(values, row, bookings, values["exchange_id"])
        values["booking_id"] = None if booking is None else booking.id
        status = values.get("status") or (row.status if row is not None else domain.ENTRY_WAITING)
        values["status"] = status
        named = booking is not None or bool(problems)
        if status == domain.BOOKED and not named:
            problems.append("a booked entry needs its booking (the booking's reference)")
        elif status != domain.BOOKED and named:
            problems.append(f"a {status} entry has no booking: only a booked one has")
        for problem in problems:
            small.problems.add(line, problem)

    def listing(entry: WaitlistEntry, changed: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
        """The changed fields of the entry's record, as its JSON shows them."""

        def record(values: dict[str, Any]) -> dict[str, Any]:
            def get(column: str) -> Any:
                return values.get(column, getattr(entry, column))

            start, end = get("between_start"), get("between_end")
            return {
                **{f: shown(get(ENTRY_COLUMNS.get(f, f))) for f in ENTRY_PLAIN},
                "exchange": slugs[get("exchange_id")],
                "between": None if start is None or end is None else f"{start}-{end}",
                "booking": bookings.reference(get("booking_id")),
            }

        old, new = record({}), record(changed)
        for field in EntryRecord.FIELDS:
            if field in old and old[field] != new[field]:
                yield field, old[field], new[field]

    now = clock.now()
    return apply(
        session,
        "waitlist",
        WaitlistEntry,
        items,
        small,
        lambda entry: str(entry.uuid),  # an entry is named by its uuid (waitlist remove ID)
        dry_run=dry_run,
        accept_changes=accept_changes,
        defaults={"status": domain.ENTRY_WAITING, "created_at": now, "updated_at": now},
        listing=listing,
    )
