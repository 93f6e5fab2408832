"""Import of business hours and closures."""

from __future__ import annotations

from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl import domain
from slotctl.bounds import WEEKDAY
from slotctl.db.models import BusinessHours, Closure
from slotctl.parsing import DAY_NAMES, format_time, parse_days, parse_time
from slotctl.tabular import Row, Source
from slotctl.transfer.cells import ImportResult, Reasons, cell_date, cell_int, cell_time
from slotctl.transfer.small import Item, Small, apply, collect, exchange_ids


def _hours_row(row: Row, small: Small) -> Item:
    v = row.values
    get = v.get
    r = Reasons()
    uuid = r(small.unique_uuid, row)
    exchange_id = r(small.exchange_id, row)
    weekday_text, day_text = get("weekday", "").strip(), get("day", "").strip().lower()
    weekday = r(cell_int, weekday_text, "weekday", WEEKDAY) if weekday_text else None
    if day_text or not weekday_text:
        days = r(parse_days, day_text)  # mon or monday; a range is not one row's day
        if days is not None and len(days) != 1:
            r.add(f"day: {day_text!r} names more than one day")
        elif days is not None and weekday is not None and weekday != days[0]:
            r.add(
                f"weekday {weekday} is {DAY_NAMES[weekday]}, but day is {day_text!r}: "
                "give one, or make them agree"
            )
        elif days is not None:
            weekday = days[0]
    opens = r(cell_time, v["opens_at"], "opens_at")
    closes = r(cell_time, v["closes_at"], "closes_at", True)
    if opens is not None and closes is not None and opens >= closes:
        r.add("opens_at must be before closes_at")
    r.raise_if_any()
    assert opens is not None
    assert closes is not None
    values = {
        "exchange_id": exchange_id,
        "weekday": weekday,
        "opens_at": format_time(opens),
        "closes_at": format_time(closes),
    }
    return uuid, values, row.line


def import_hours(
    session: Session, stream: Source, *, dry_run: bool = False, accept_changes: bool = False
) -> ImportResult:
    parsed, small = collect(stream, "hours", _hours_row, exchange_ids(session))
    # The week after the import: shifts not in the file stay; check overlaps per day.
    named = {u for u, _, _ in parsed if u is not None}
    week: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for row in session.scalars(select(BusinessHours)):
        if row.uuid not in named:
            key = (row.exchange_id, row.weekday)
            week.setdefault(key, []).append(
                (parse_time(row.opens_at), parse_time(row.closes_at, allow_end_of_day=True), 0)
            )
    for _, values, line in parsed:
        key = (values["exchange_id"], values["weekday"])
        week.setdefault(key, []).append(
            (
                parse_time(values["opens_at"]),
                parse_time(values["closes_at"], allow_end_of_day=True),
                line,
            )
        )
    for shifts in week.values():
        shifts.sort()
        for (opens_a, closes_a, line_a), (opens_b, closes_b, line_b) in pairwise(shifts):
            if domain.shifts_overlap((opens_a, closes_a), (opens_b, closes_b)):
                line = max(line_a, line_b)
                other = (
                    f"line {min(line_a, line_b)}" if min(line_a, line_b) else "an existing shift"
                )
                small.problems.add(line, f"overlaps {other} on the same day")
    slugs = {id_: slug for slug, id_ in small.exchanges.items()}

    def shift(row: BusinessHours) -> str:  # downtown mon 09:00-12:00
        day = DAY_NAMES[row.weekday]
        return f"{slugs.get(row.exchange_id)} {day} {row.opens_at}-{row.closes_at}"

    return apply(
        session,
        "hours",
        BusinessHours,
        parsed,
        small,
        shift,
        dry_run=dry_run,
        accept_changes=accept_changes,
    )


def _closure_row(row: Row, small: Small) -> Item:
    get = row.values.get
    r = Reasons()
    uuid = r(small.unique_uuid, row)
    exchange_id = r(small.exchange_id, row)
    starts = r(cell_date, row.values["starts_on"], "starts_on")
    ends_text = get("ends_on", "").strip()
    ends = r(cell_date, ends_text, "ends_on") if ends_text else starts
    if starts is not None and ends is not None and ends < starts:
        r.add("ends_on is before starts_on")
    reason = r(domain.reason, get("reason", "")) or ""
    r.raise_if_any()
    values = {
        "exchange_id": exchange_id,
        "starts_on": starts,
        "ends_on": ends,
        "reason": reason,
    }
    return uuid, values, row.line


def import_closures(
    session: Session, stream: Source, *, dry_run: bool = False, accept_changes: bool = False
) -> ImportResult:
    items, small = collect(stream, "closures", _closure_row, exchange_ids(session))
    slugs = {id_: slug for slug, id_ in small.exchanges.items()}

    def closure(row: Closure) -> str:  # downtown 2027-03-17, downtown 2027-03-17/2027-03-19
        days = f"{row.starts_on}"
        if row.ends_on != row.starts_on:
            days += f"/{row.ends_on}"
        return f"{slugs.get(row.exchange_id)} {days}"

    return apply(
        session,
        "closures",
        Closure,
        items,
        small,
        closure,
        dry_run=dry_run,
        accept_changes=accept_changes,
    )
