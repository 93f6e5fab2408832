"""The front desk: check-in, tickets and the one fair queue of an exchange.

Every arrival gets a ticket, numbered per exchange, local day and kind (``A001`` for
appointments, ``W001`` for walk-ins). The order of the queue is the domain's
(:func:`slotctl.domain.queue_key`); a ticket's booking changes only through the
lifecycle (:mod:`slotctl.services.seats`), so check-in, a served ticket, a no-show
and a customer who left are audited like every other change.

Calling the next ticket is a conditional UPDATE from ``waiting``: two counters
calling at the same moment never get the same ticket (the loser takes the next).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.db.models import Booking, Exchange, Ticket
from slotctl.errors import Conflict, InvalidValue, NotFound
from slotctl.records import BookingRecord, TicketRecord
from slotctl.services import seats
from slotctl.services.bookings import transition
from slotctl.services.lookup import by_uuid, exchange_by_slug

COUNTER_LIMIT = 50
ISSUE_ATTEMPTS = 100


def local_day(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def ticket_record(
    ticket: Any, exchange: Exchange, reference: str | None, now: datetime
) -> TicketRecord:
    """A ticket's record, its instants with the exchange's offset; ``waited_minutes``
    runs from arrival to the call (to now while it waits; none for a ticket that left
    before a call): real minutes, whatever the clocks did meanwhile."""
    zone = ZoneInfo(exchange.timezone)

    def local(at: datetime | None) -> datetime | None:
        return None if at is None else at.astimezone(zone)

    if ticket.called_at is not None:
        waited: int | None = int((ticket.called_at - ticket.arrived_at).total_seconds() // 60)
    elif ticket.status == domain.WAITING:
        waited = max(0, int((now - ticket.arrived_at).total_seconds() // 60))
    else:
        waited = None
    return TicketRecord(
        uuid=ticket.uuid,
        number=domain.ticket_number(ticket.kind, ticket.seq),
        exchange=exchange.slug,
        kind=ticket.kind,
        booking=reference,
        customer_name=ticket.customer_name,
        status=ticket.status,
        arrived_at=ticket.arrived_at.astimezone(zone),
        called_at=local(ticket.called_at),
        served_at=local(ticket.served_at),
        counter=ticket.counter,
        due_at=local(ticket.due_at),
        waited_minutes=waited,
    )


def _record(session: Session, ticket: Ticket, now: datetime) -> TicketRecord:
    reference = None
    if ticket.booking_id is not None:
        reference = session.scalar(select(Booking.reference).where(Booking.id == ticket.booking_id))
    return ticket_record(ticket, ticket.exchange, reference, now)


def counter_name(value: str) -> str:
    name = domain.clean_text(value, "counter", COUNTER_LIMIT, required=True)
    assert name is not None
    return name


# Issuing tickets ------------------------------------------------------------------------


def _issue(session: Session, exchange: Exchange, values: dict[str, Any], now: datetime) -> Ticket:
    """Insert a ticket with the next number of its kind for the exchange's local day.
    Two desks issuing at the same moment cannot get the same number: the unique
    (exchange, day, kind, seq) refuses the second, which takes the next."""
    day = local_day(exchange.timezone, now)
    kind = values["kind"]
    for _ in range(ISSUE_ATTEMPTS):
        seq = (
            session.scalar(
                select(func.max(Ticket.seq)).where(
                    Ticket.exchange_id == exchange.id, Ticket.day == day, Ticket.kind == kind
                )
            )
            or 0
        ) + 1
        ticket = Ticket(exchange_id=exchange.id, day=day, seq=seq, arrived_at=now, **values)
        try:
            with session.begin_nested():
                session.add(ticket)
        except IntegrityError:
            continue  # another desk took this number meanwhile: take the next
        return ticket
    raise Conflict("too many desks issued tickets at the same moment; try again")


def checkin(session: Session, idents: Sequence[str], actor: str) -> list[TicketRecord]:
    """Check bookings in (``pending | confirmed → arrived``), all or none, each from its
    exchange's ``checkin_early`` before its slot until the slot ends; each gets an
    appointment ticket."""
    issued: list[Ticket] = []

    def window(booking: Booking, now: datetime) -> str | None:
        exchange, slot = booking.exchange, booking.slot
        return domain.checkin_refusal(
            slot.starts_at, slot.ends_at, exchange.checkin_early_minutes, now
        )

    def ticket(booking: Booking, now: datetime) -> None:
        exchange = booking.exchange
        due = booking.slot.starts_at
        issued.append(
            _issue(
                session,
                exchange,
                {
                    "kind": domain.APPOINTMENT,
                    "booking_id": booking.id,
                    "customer_name": booking.customer_name,
                    "customer_email": booking.customer_email,
                    "customer_phone": booking.customer_phone,
                    "due_at": due,
                    "on_time": domain.on_time(due, now, exchange.late_after_minutes),
                },
                now,
            )
        )

    transition(session, "checkin", idents, actor, check=window, then=ticket)
    now = clock.now()
    return [_record(session, t, now) for t in issued]


def walkin(
    session: Session,
    slug: str,
    name: str,
    *,
    phone: str | None = None,
    email: str | None = None,
) -> TicketRecord:
    """A walk-in ticket: the customer queues by arrival, with late appointments."""
    values = {
        "kind": domain.WALKIN,
        "customer_name": domain.customer_name(name),
        "customer_phone": domain.phone(phone),
        "customer_email": None if email is None else domain.email(email),
    }
    exchange = exchange_by_slug(session, slug)
    now = clock.now()
    ticket = _issue(session, exchange, values, now)
    return ticket_record(ticket, exchange, None, now)


# The queue ------------------------------------------------------------------------------


def _waiting(session: Session, exchange: Exchange, now: datetime) -> list[Any]:
    """Today's waiting tickets of the exchange in the order they will be called (rows
    with the ticket's columns as attributes: no ORM objects on the hot path)."""
    tickets = session.execute(
        select(*Ticket.__table__.c).where(
            Ticket.exchange_id == exchange.id,
            Ticket.status == domain.WAITING,
            Ticket.day == local_day(exchange.timezone, now),
        )
    ).all()
    return sorted(
        tickets, key=lambda t: (*domain.queue_key(t.due_at, t.on_time, t.arrived_at, now), t.id)
    )


def list_queue(session: Session, slug: str) -> list[TicketRecord]:
    exchange = exchange_by_slug(session, slug)
    now = clock.now()
    tickets = _waiting(session, exchange, now)
    found = references(session, [t.booking_id for t in tickets if t.booking_id])
    return [ticket_record(t, exchange, found.get(t.booking_id), now) for t in tickets]


def references(session: Session, ids: list[int]) -> dict[int | None, str]:
    """The references of the bookings with these ids."""
    if not ids:
        return {}
    rows = session.execute(select(Booking.id, Booking.reference).where(Booking.id.in_(ids)))
    return {row.id: row.reference for row in rows}


def call_next(session: Session, slug: str, counter: str, actor: str) -> TicketRecord:
    """Call the first waiting ticket to ``counter``; NotFound when nobody waits."""
    counter = counter_name(counter)
    exchange = exchange_by_slug(session, slug)
    now = clock.now()
    for ticket in _waiting(session, exchange, now):
        called = session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == domain.WAITING)
            .values(status=domain.CALLED, called_at=now, counter=counter, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not called.rowcount:  # type: ignore[attr-defined]
            continue  # another counter called it first
        if ticket.booking_id is not None:
            _mark_booking(session, ticket.booking_id, now, counter, actor, f"called to {counter}")
        called_ticket = session.get(Ticket, ticket.id)
        assert called_ticket is not None
        return _record(session, called_ticket, now)
    raise NotFound(f"nobody waits at {exchange.slug}")


def _mark_booking(
    session: Session,
    booking_id: int,
    at: datetime | None,
    counter: str | None,
    actor: str,
    note: str,
) -> None:
    """Record a call (or its undoing) on the appointment's booking, with a history entry."""
    status = session.scalar(select(Booking.status).where(Booking.id == booking_id))
    assert status is not None
    session.execute(
        update(Booking)
        .where(Booking.id == booking_id)
        .values(called_at=at, counter=counter, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    seats.event(session, booking_id, actor, status, status, note, clock.now())


# Finding and acting on a ticket ---------------------------------------------------------


def find_ticket(session: Session, ident: str) -> Ticket:
    """A ticket by uuid (or prefix), ``NUMBER`` (today's, when one exchange has it) or
    ``SLUG/NUMBER``."""
    text = ident.strip()
    slug, _, number = text.rpartition("/")
    parsed = domain.parse_ticket_number(number)
    if parsed is None:
        if slug:
            raise InvalidValue(f"invalid ticket {ident!r}: e.g. A001, downtown/W012 or a uuid")
        return by_uuid(session, Ticket, text, "ticket")
    kind, seq = parsed
    now = clock.now()
    query = select(Ticket, Exchange).join(Exchange).where(Ticket.kind == kind, Ticket.seq == seq)
    if slug:
        query = query.where(Exchange.slug == exchange_by_slug(session, slug).slug)
    found = [
        ticket
        for ticket, exchange in session.execute(query)
        if ticket.day == local_day(exchange.timezone, now)
    ]
    shown = domain.ticket_number(kind, seq)
    if not found:
        raise NotFound(f"no ticket {shown} today" + (f" at {slug}" if slug else ""))
    if len(found) > 1:
        raise InvalidValue(
            f"ticket {shown} is at {len(found)} exchanges today: give SLUG/{shown} or its uuid"
        )
    return found[0]


def act(session: Session, action: str, ident: str, actor: str) -> TicketRecord:
    """``done``, ``no-show``, ``requeue`` or ``cancel`` one ticket; an appointment's
    booking moves with it (completed, no-show, cancelled)."""
    rule = domain.TICKET_TRANSITIONS[action]
    ticket = find_ticket(session, ident)
    refusal = domain.ticket_refusal(rule, ticket.status)
    if refusal is not None:
        raise Conflict(f"{domain.ticket_number(ticket.kind, ticket.seq)}: {refusal}")
    now = clock.now()
    booking = None if ticket.booking_id is None else session.get(Booking, ticket.booking_id)
    if booking is not None and rule.booking_action is not None and booking.status == domain.ARRIVED:
        # The booking's transition takes its ticket along (seats.change_status).
        reason = domain.LEFT_REASON if rule.booking_action == "cancel" else None
        transition(session, rule.booking_action, [booking.uuid], actor, reason=reason)
    else:
        values: dict[str, Any] = {"status": rule.target, "updated_at": now}
        if rule.target == domain.SERVED:
            values["served_at"] = now
        if rule.target == domain.WAITING:  # requeued: waits again, keeping its arrival
            values.update(called_at=None, counter=None)
        changed = session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == ticket.status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not changed.rowcount:  # type: ignore[attr-defined]
            raise Conflict("the ticket was changed by someone else meanwhile; try again")
        if booking is not None and rule.target == domain.WAITING:
            _mark_booking(session, booking.id, None, None, actor, "back in the queue")
    session.refresh(ticket)
    return _record(session, ticket, now)


def booking_of(session: Session, ticket: TicketRecord) -> BookingRecord | None:
    """The booking of an appointment ticket (None for a walk-in)."""
    if ticket.booking is None:
        return None
    from slotctl.services.bookings import find_booking, record

    return record(find_booking(session, ticket.booking))
