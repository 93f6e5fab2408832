"""``slotctl doctor``: check every invariant of docs/design.md with set-based SQL
(slots and bookings, and the front desk: tickets and the waitlist)."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.db.models import UTCDateTime
from slotctl.records import Violation
from slotctl.services import seats
from slotctl.wording import counted, verb

_HOLDING, _ACTIVE = seats.HOLDING, seats.ACTIVE

_COUNTERS = f"""
SELECT s.id, s.uuid, e.slug, s.current_bookings, COALESCE(c.n, 0), s.max_capacity
FROM time_slots s
JOIN exchanges e ON e.id = s.exchange_id
LEFT JOIN (SELECT time_slot_id, count(*) AS n FROM bookings
           WHERE status IN ({_HOLDING}) GROUP BY time_slot_id) c ON c.time_slot_id = s.id
WHERE s.current_bookings <> COALESCE(c.n, 0) OR COALESCE(c.n, 0) > s.max_capacity
ORDER BY s.starts_at
"""

_DUPLICATES = f"""
SELECT s.uuid, e.slug, b.customer_email, count(*)
FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id JOIN exchanges e ON e.id = s.exchange_id
WHERE b.status IN ({_ACTIVE})
GROUP BY s.uuid, e.slug, b.customer_email HAVING count(*) > 1
"""

_OVERLAPS = """
SELECT uuid, slug, previous_uuid FROM (
  SELECT s.uuid, e.slug, s.starts_at,
         LAG(s.ends_at) OVER (PARTITION BY s.exchange_id ORDER BY s.starts_at) AS previous_end,
         LAG(s.uuid) OVER (PARTITION BY s.exchange_id ORDER BY s.starts_at) AS previous_uuid
  FROM time_slots s JOIN exchanges e ON e.id = s.exchange_id
) w WHERE previous_end > starts_at
"""

_STALE_PENDING = """
SELECT b.reference, e.slug, s.uuid
FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id JOIN exchanges e ON e.id = s.exchange_id
WHERE b.status = 'pending' AND s.starts_at <= :now
ORDER BY s.starts_at
"""


_STAMPS = f"""
SELECT reference, slug, problem FROM (
  SELECT b.reference, e.slug, s.starts_at, {seats.stamp_problem_sql("b")} AS problem
  FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id
  JOIN exchanges e ON e.id = s.exchange_id
) w WHERE problem IS NOT NULL
ORDER BY starts_at, reference
"""

_HISTORY = """
SELECT b.reference, e.slug, b.status, ev.to_status
FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id JOIN exchanges e ON e.id = s.exchange_id
LEFT JOIN (SELECT booking_id, max(id) AS last_id FROM booking_events GROUP BY booking_id) l
  ON l.booking_id = b.id
LEFT JOIN booking_events ev ON ev.id = l.last_id
WHERE ev.to_status IS NULL OR ev.to_status <> b.status
ORDER BY s.starts_at, b.reference
"""


# The front desk ----------------------------------------------------------------------
#
# What a ticket in each status has of its call and service: domain.TICKET_STAMPS.
TICKET_CALL = domain.TICKET_STAMPS


def _ticket_call_problem_sql(alias: str) -> str:
    """SQL: how the call columns of the ticket row ``alias`` contradict its status
    (:data:`TICKET_CALL`), or null when they agree."""
    branches = []
    for status, columns in TICKET_CALL.items():
        checks = " ".join(
            f"WHEN {alias}.{column} IS {'' if wanted else 'NOT '}NULL"
            f" THEN 'a {status} ticket {'needs' if wanted else 'has no'} {column}'"
            for column, wanted in columns.items()
        )
        branches.append(f"WHEN '{status}' THEN CASE {checks} END")
    return (
        f"CASE WHEN ({alias}.called_at IS NULL) <> ({alias}.counter IS NULL)"
        " THEN 'a ticket has called_at and counter together or neither'"
        f" ELSE CASE {alias}.status {' '.join(branches)} END END"
    )


_TICKET_CALLS = f"""
SELECT uuid, slug, problem FROM (
  SELECT t.uuid, e.slug, t.arrived_at, {_ticket_call_problem_sql("t")} AS problem
  FROM tickets t JOIN exchanges e ON e.id = t.exchange_id
) w WHERE problem IS NOT NULL
ORDER BY arrived_at, uuid
"""

# The booking status each ticket status goes with: a ticket in the queue belongs to an
# arrived booking, and leaves it as its booking leaves arrived (domain.TICKET_AFTER_BOOKING).
TICKET_BOOKING: dict[str, str] = {
    **dict.fromkeys(domain.QUEUED_STATUSES, domain.ARRIVED),
    **{ticket: booking for booking, ticket in domain.TICKET_AFTER_BOOKING.items()},
}
_AGREEING = " OR ".join(
    f"(t.status = '{ticket}' AND b.status = '{booking}')"
    for ticket, booking in TICKET_BOOKING.items()
)
_TICKET_BOOKINGS = f"""
SELECT t.uuid, e.slug, t.kind, t.seq, t.status, b.reference, b.status
FROM tickets t JOIN bookings b ON b.id = t.booking_id JOIN exchanges e ON e.id = t.exchange_id
WHERE NOT ({_AGREEING})
ORDER BY t.arrived_at, t.uuid
"""

_WAITLIST = f"""
SELECT w.uuid, e.slug, w.status, w.customer_email, b.id, b.reference, b.customer_email, be.slug
FROM waitlist_entries w JOIN exchanges e ON e.id = w.exchange_id
LEFT JOIN bookings b ON b.id = w.booking_id
LEFT JOIN exchanges be ON be.id = b.exchange_id
WHERE (w.status = '{domain.BOOKED}' AND (b.id IS NULL OR b.exchange_id <> w.exchange_id
                                   OR b.customer_email <> w.customer_email))
   OR (w.status <> '{domain.BOOKED}' AND w.booking_id IS NOT NULL)
ORDER BY w.created_at, w.uuid
"""


def _waitlist_problem(
    status: str,
    email: str,
    booking: int | None,
    reference: str | None,
    booked_email: str | None,
    booked_at: str | None,
    slug: str,
) -> str:
    if status != domain.BOOKED:
        return f"{status}, but it has booking {reference}"
    if booking is None:
        return "booked, but it has no booking"
    if booked_at != slug:
        return f"booked, but its booking {reference} is at {booked_at}"
    return f"booked for {email}, but its booking {reference} is for {booked_email}"


def _holding(count: int) -> str:
    return f"{counted(count, 'booking')} {verb(count, 'holds', 'hold')} seats"


def check(session: Session) -> list[Violation]:
    """Every violation found, as records; an empty list means all is well."""
    now = clock.now()
    violations: list[Violation] = []
    for _, uuid, slug, counter, holding, capacity in session.execute(text(_COUNTERS)):
        if counter != holding:
            violations.append(
                _violation(
                    "counter",
                    uuid,
                    slug,
                    f"current_bookings is {counter} but {_holding(holding)}",
                )
            )
        if holding > capacity:
            violations.append(
                _violation("capacity", uuid, slug, f"{_holding(holding)}, capacity {capacity}")
            )
    for uuid, slug, email, count in session.execute(text(_DUPLICATES)):
        violations.append(
            _violation("duplicate", uuid, slug, f"{email} holds {counted(count, 'active booking')}")
        )
    for uuid, slug, previous in session.execute(text(_OVERLAPS)):
        violations.append(_violation("overlap", uuid, slug, f"overlaps slot {previous}"))
    stale = text(_STALE_PENDING).bindparams(bindparam("now", now, type_=UTCDateTime()))
    for reference, slug, uuid in session.execute(stale):
        violations.append(
            _violation(
                "stale_pending",
                reference,
                slug,
                f"pending on slot {uuid}, which has started "
                "(run `slotctl bookings expire-pending`)",
            )
        )
    for reference, slug, problem in session.execute(text(_STAMPS)):
        violations.append(_violation("timestamps", reference, slug, problem))
    for reference, slug, status, last in session.execute(text(_HISTORY)):
        detail = (
            f"{status}, but its audit trail is empty"
            if last is None
            else f"{status}, but its last audit event says {last}"
        )
        violations.append(_violation("history", reference, slug, detail))
    for uuid, slug, problem in session.execute(text(_TICKET_CALLS)):
        violations.append(_violation("ticket_call", uuid, slug, problem))
    for uuid, slug, kind, seq, status, reference, booking_status in session.execute(
        text(_TICKET_BOOKINGS)
    ):
        violations.append(
            _violation(
                "ticket_booking",
                uuid,
                slug,
                f"ticket {domain.ticket_number(kind, seq)} is {status}, but its booking"
                f" {reference} is {booking_status}",
            )
        )
    for uuid, slug, status, email, booking, reference, booked_email, booked_at in session.execute(
        text(_WAITLIST)
    ):
        detail = _waitlist_problem(status, email, booking, reference, booked_email, booked_at, slug)
        violations.append(_violation("waitlist", uuid, slug, detail))
    return violations


def _violation(kind: str, record: str, exchange: str, detail: str) -> Violation:
    return Violation(kind, record, exchange, detail)


def repair_counters(session: Session) -> tuple[int, list[Violation]]:
    """Recompute ``current_bookings`` from the bookings; returns (repaired, left alone).

    A slot with more seat-holding bookings than its capacity cannot be repaired
    by a counter (the CHECK forbids it): it is reported and left for an operator.
    """
    left: list[Violation] = []
    wrong = []
    for slot_id, uuid, slug, counter, holding, capacity in session.execute(text(_COUNTERS)):
        if holding > capacity:
            left.append(
                _violation(
                    "capacity",
                    uuid,
                    slug,
                    f"{_holding(holding)}, capacity {capacity}: cancel or move some",
                )
            )
        elif counter != holding:
            wrong.append(str(int(slot_id)))
    if not wrong:
        return 0, left
    return seats.recount(session, clock.now(), ", ".join(wrong)), left
