"""Import of exchanges."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.bounds import (
    ADVANCE_DAYS,
    CHECKIN_EARLY_MINUTES,
    LATE_AFTER_MINUTES,
    NOTICE_MINUTES,
)
from slotctl.db.models import Exchange, TimeSlot
from slotctl.parsing import validate_timezone
from slotctl.records import EXCHANGE_FIELDS
from slotctl.tabular import Row, Source
from slotctl.transfer.cells import ImportResult, Reasons, cell_bool, cell_instant, cell_int
from slotctl.transfer.small import Item, Small, apply, collect

_EXCHANGE_OPTIONAL = tuple(f for f in EXCHANGE_FIELDS if f not in ("uuid", "slug", "name"))
_FRONT_DESK = {
    "checkin_early_minutes": CHECKIN_EARLY_MINUTES,
    "late_after_minutes": LATE_AFTER_MINUTES,
}


def import_exchanges(
    session: Session,
    stream: Source,
    *,
    default_timezone: str,
    dry_run: bool = False,
    accept_changes: bool = False,
) -> ImportResult:
    now = clock.now()
    slugs: dict[str, int] = {}

    def parse(row: Row, small: Small) -> Item:
        v = row.values
        get = v.get
        r = Reasons()
        uuid = r(small.unique_uuid, row)
        slug = r(domain.slug, v["slug"])
        if slug in slugs:
            r.add(f"duplicate slug {slug} (also on line {slugs[slug]})")
        elif slug is not None:
            slugs[slug] = row.line
        values: dict[str, Any] = {"slug": slug, "name": r(domain.exchange_name, v["name"])}
        cells = {k: (get(k) or "").strip() for k in _EXCHANGE_OPTIONAL}
        if cells["timezone"]:
            values["timezone"] = r(validate_timezone, cells["timezone"])
        if cells["is_active"]:
            values["is_active"] = r(cell_bool, cells["is_active"], "is_active")
        if cells["min_notice_minutes"]:
            values["min_notice_minutes"] = r(
                cell_int, cells["min_notice_minutes"], "min_notice_minutes", NOTICE_MINUTES
            )
        for column, bound in _FRONT_DESK.items():  # an empty cell: the default, or unchanged
            if cells[column]:
                values[column] = r(cell_int, cells[column], column, bound)
        if "max_advance_days" in v:  # an empty cell: no limit
            advance = cells["max_advance_days"]
            values["max_advance_days"] = (
                r(cell_int, advance, "max_advance_days", ADVANCE_DAYS) if advance else None
            )
        for stamp in ("created_at", "updated_at"):
            if cells[stamp]:
                values[stamp] = r(cell_instant, cells[stamp], stamp)
        r.raise_if_any()
        return uuid, values, row.line

    items, small = collect(stream, "exchanges", parse)
    current = list(session.scalars(select(Exchange)))
    by_slug = {e.slug: e for e in current}
    by_uuid = {e.uuid: e for e in current}
    for uuid, values, line in items:
        other = by_slug.get(values["slug"])
        if other is not None and other.uuid != uuid:
            small.problems.add(
                line, f"exchange {values['slug']!r} exists with another uuid ({other.uuid})"
            )
        mine = by_uuid.get(uuid) if uuid is not None else None
        zone = values.get("timezone")
        if mine is not None and zone not in (None, mine.timezone) and _has_slots(session, mine):
            small.problems.add(line, f"{mine.slug} has slots: its timezone cannot change")
    defaults = {
        "timezone": validate_timezone(default_timezone),
        "is_active": True,
        "min_notice_minutes": 0,
        "checkin_early_minutes": domain.CHECKIN_EARLY_MINUTES,
        "late_after_minutes": domain.LATE_AFTER_MINUTES,
        "created_at": now,
        "updated_at": now,
    }
    return apply(
        session,
        "exchanges",
        Exchange,
        items,
        small,
        lambda exchange: str(exchange.slug),  # a record is named by its slug
        dry_run=dry_run,
        accept_changes=accept_changes,
        defaults=defaults,
    )


def _has_slots(session: Session, exchange: Exchange) -> bool:
    return (
        session.scalar(select(TimeSlot.id).where(TimeSlot.exchange_id == exchange.id).limit(1))
        is not None
    )
