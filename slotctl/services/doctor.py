"""``slotctl doctor``: check every invariant of DESIGN.md with set-based SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.db.models import ACTIVE_STATUSES, SEAT_HOLDING_STATUSES, UTCDateTime

VIOLATION_FIELDS = ("check", "record", "exchange", "detail")

_HOLDING = ", ".join(f"'{s}'" for s in SEAT_HOLDING_STATUSES)
_ACTIVE = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)

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


def check(session: Session) -> list[dict[str, Any]]:
    """Every violation found, as records; an empty list means all is well."""
    now = clock.now()
    violations: list[dict[str, Any]] = []
    for _, uuid, slug, counter, holding, capacity in session.execute(text(_COUNTERS)):
        if counter != holding:
            violations.append(
                _violation(
                    "counter",
                    uuid,
                    slug,
                    f"current_bookings is {counter} but {holding} bookings hold seats",
                )
            )
        if holding > capacity:
            violations.append(
                _violation(
                    "capacity", uuid, slug, f"{holding} bookings hold seats, capacity {capacity}"
                )
            )
    for uuid, slug, email, count in session.execute(text(_DUPLICATES)):
        violations.append(
            _violation("duplicate", uuid, slug, f"{email} holds {count} active bookings")
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
    return violations


def _violation(kind: str, record: str, exchange: str, detail: str) -> dict[str, Any]:
    return {"check": kind, "record": record, "exchange": exchange, "detail": detail}


def repair_counters(session: Session) -> tuple[int, list[dict[str, Any]]]:
    """Recompute ``current_bookings`` from the bookings; returns (repaired, left alone).

    A slot with more seat-holding bookings than its capacity cannot be repaired
    by a counter (the CHECK forbids it): it is reported and left for an operator.
    """
    repaired = 0
    left: list[dict[str, Any]] = []
    for slot_id, uuid, slug, counter, holding, capacity in session.execute(text(_COUNTERS)).all():
        if holding > capacity:
            left.append(
                _violation(
                    "capacity",
                    uuid,
                    slug,
                    f"{holding} bookings hold seats, capacity {capacity}: cancel or move some",
                )
            )
            continue
        if counter != holding:
            session.execute(
                text("UPDATE time_slots SET current_bookings = :n WHERE id = :id"),
                {"n": holding, "id": slot_id},
            )
            repaired += 1
    return repaired, left
