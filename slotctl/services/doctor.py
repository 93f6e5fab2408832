"""``slotctl doctor``: check every invariant of docs/design.md with set-based SQL."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from slotctl import clock
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
