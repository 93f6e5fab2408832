"""Import of slots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.bounds import CAPACITY
from slotctl.db.models import Exchange, new_uuids
from slotctl.errors import InvalidValue
from slotctl.parsing import parse_time
from slotctl.tabular import Row
from slotctl.transfer.cells import (
    ImportResult,
    Problems,
    cell_bool,
    cell_date,
    cell_instant,
    cell_int,
    cell_optional_instant,
    cell_uuid,
    file_rows,
    parsed_rows,
)
from slotctl.transfer.staging import Stage, duplicates, lock_slots
from slotctl.wording import counted

_SLOT_STAGE = (
    ("line", "int"),
    ("uuid", "text"),
    ("exchange_id", "int"),
    ("date", "text"),
    ("starts_at", "ts"),
    ("ends_at", "ts"),
    ("max_capacity", "int"),
    ("is_available", "int"),
    ("created_at", "ts"),
    ("updated_at", "ts"),
    ("existing_id", "int"),
)


def _local(day: str, clock_time: str, zone: ZoneInfo, column: str) -> datetime:
    minutes = parse_time(clock_time, allow_end_of_day=column == "end")
    wall = datetime.combine(cell_date(day, "date"), datetime.min.time()) + timedelta(
        minutes=minutes
    )
    local = wall.replace(tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        raise InvalidValue(f"{column} {day} {clock_time} does not exist in {zone.key} (DST)")
    return instant


def _slot_parser(
    stage: Stage, exchanges: dict[str, Exchange], now: datetime
) -> Callable[[Row], tuple[Any, ...]]:
    fresh_uuids: list[str] = []
    zones: dict[str, ZoneInfo] = {}
    stamp = stage.stamp

    def parse(row: Row) -> tuple[Any, ...]:
        v = row.values
        get = v.get
        slug = v["exchange"].strip()
        exchange = exchanges.get(slug)
        if exchange is None:
            raise InvalidValue(f"no exchange {slug!r}" if slug else "exchange is required")
        zone = zones.get(exchange.timezone) or zones.setdefault(
            exchange.timezone, ZoneInfo(exchange.timezone)
        )
        if (get("starts_at") or "").strip():
            starts = cell_instant(v["starts_at"], "starts_at")
            ends = cell_instant(get("ends_at") or "", "ends_at")
        else:
            starts = _local(get("date", ""), get("start", ""), zone, "start")
            ends = _local(get("date", ""), get("end", ""), zone, "end")
        if ends <= starts:
            raise InvalidValue("the slot must end after it starts")
        if starts.second or starts.microsecond or ends.second or ends.microsecond:
            raise InvalidValue("slot times must be whole minutes")
        given = (get("uuid") or "").strip()
        if given:
            uuid = cell_uuid(given)
        else:
            if not fresh_uuids:
                fresh_uuids.extend(new_uuids(1000))
            uuid = fresh_uuids.pop()
        available = get("is_available", "").strip()
        return (
            row.line,
            uuid,
            exchange.id,
            starts.astimezone(zone).date().isoformat(),
            stamp(starts),
            stamp(ends),
            cell_int(v["max_capacity"], "max_capacity", CAPACITY),
            1 if not available or cell_bool(available, "is_available") else 0,
            stamp(cell_optional_instant(get("created_at", ""), "created_at") or now),
            stamp(cell_optional_instant(get("updated_at", ""), "updated_at") or now),
            None,
        )

    return parse


def import_slots(session: Session, stream: IO[str], *, dry_run: bool = False) -> ImportResult:
    now = clock.now()
    problems = Problems("slots")
    exchanges = {e.slug: e for e in session.scalars(select(Exchange))}
    stage = Stage(session.connection(), "import_slots", _SLOT_STAGE)
    header: list[str] = []
    stage.load(
        parsed_rows(
            file_rows(stream, "slots", problems, header),
            _slot_parser(stage, exchanges, now),
            problems,
        )
    )
    st = stage.name
    stage.sql(f"CREATE INDEX {st}_uuid ON {st} (uuid)")
    stage.sql(f"UPDATE {st} SET existing_id = s.id FROM time_slots s WHERE s.uuid = {st}.uuid")
    lock_slots(stage, f"SELECT existing_id FROM {st} WHERE existing_id IS NOT NULL")
    problems.extend(duplicates(stage, "uuid", "uuid"))
    date_column = stage.dialect.text_date("st.date")
    rows = stage.sql(
        f"SELECT st.line, d.first FROM {st} st JOIN (SELECT exchange_id, starts_at,"
        f" min(line) AS first FROM {st} GROUP BY exchange_id, starts_at HAVING count(*) > 1) d"
        " ON d.exchange_id = st.exchange_id AND d.starts_at = st.starts_at WHERE st.line > d.first"
    )
    problems.extend(
        (line, f"another row starts at the same time (line {first})") for line, first in rows
    )
    problems.extend(
        (line, f"slot {other} of this exchange already starts at that time")
        for line, other in stage.sql(
            f"SELECT st.line, s.uuid FROM {st} st JOIN time_slots s"
            " ON s.exchange_id = st.exchange_id AND s.starts_at = st.starts_at"
            " WHERE s.uuid <> st.uuid"
            f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = s.uuid)"
        )
    )
    problems.extend(
        (line, "overlaps another slot of its exchange")
        for (line,) in stage.sql(
            "WITH final AS ("
            f" SELECT s.exchange_id, s.starts_at, s.ends_at, NULL AS line FROM time_slots s"
            f" WHERE s.exchange_id IN (SELECT DISTINCT exchange_id FROM {st})"
            f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = s.uuid)"
            f" UNION ALL SELECT exchange_id, starts_at, ends_at, line FROM {st}),"
            " ordered AS (SELECT line, starts_at, ends_at,"
            " LAG(ends_at) OVER w AS previous_end, LEAD(starts_at) OVER w AS next_start"
            " FROM final WINDOW w AS (PARTITION BY exchange_id ORDER BY starts_at, line))"
            " SELECT line FROM ordered WHERE line IS NOT NULL"
            " AND (previous_end > starts_at OR next_start < ends_at)"
        )
    )
    problems.extend(
        (line, f"capacity {capacity} is below the slot's {counted(booked, 'booking')}")
        for line, capacity, booked in stage.sql(
            f"SELECT st.line, st.max_capacity, s.current_bookings FROM {st} st"
            " JOIN time_slots s ON s.id = st.existing_id WHERE st.max_capacity < s.current_bookings"
        )
    )
    problems.extend(
        (line, "a booked slot cannot move to another time or exchange")
        for (line,) in stage.sql(
            f"SELECT st.line FROM {st} st JOIN time_slots s ON s.id = st.existing_id"
            " WHERE (s.starts_at <> st.starts_at OR s.ends_at <> st.ends_at"
            " OR s.exchange_id <> st.exchange_id)"
            " AND EXISTS (SELECT 1 FROM bookings b WHERE b.time_slot_id = s.id)"
        )
    )
    problems.raise_if_any()

    # A slot's CSV has no created_at/updated_at: they are kept, and updated_at is set
    # when something else changes.
    compared = ("exchange_id", "starts_at", "ends_at", "max_capacity")
    # A file without is_available leaves blocks as they are.
    blocks = "is_available" in header
    differs = " OR ".join(
        [stage.distinct(f"s.{c}", f"st.{c}") for c in compared]
        + [stage.distinct("s.date", date_column)]
        + ([stage.distinct("s.is_available", _flag(stage))] if blocks else [])
    )
    result = ImportResult("slots", dry_run=dry_run)
    ((result.created,),) = stage.sql(f"SELECT count(*) FROM {st} WHERE existing_id IS NULL")
    ((result.updated,),) = stage.sql(
        f"SELECT count(*) FROM {st} st JOIN time_slots s ON s.id = st.existing_id WHERE {differs}"
    )
    ((total,),) = stage.sql(f"SELECT count(*) FROM {st}")
    result.unchanged = total - result.created - result.updated
    if dry_run or total == result.unchanged:
        stage.drop()
        return result
    block = f" is_available = {_flag(stage)}," if blocks else ""
    stage.sql(
        f"UPDATE time_slots SET exchange_id = st.exchange_id, date = {date_column},"
        f" starts_at = st.starts_at, ends_at = st.ends_at, max_capacity = st.max_capacity,"
        f"{block} updated_at = st.updated_at"
        f" FROM {st} st WHERE time_slots.id = st.existing_id"
        f" AND EXISTS (SELECT 1 FROM time_slots s WHERE s.id = st.existing_id AND ({differs}))"
    )
    stage.sql(
        "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity,"
        " current_bookings, is_available, created_at, updated_at)"
        f" SELECT st.uuid, st.exchange_id, {date_column}, st.starts_at, st.ends_at,"
        f" st.max_capacity, 0, {_flag(stage)}, st.created_at, st.updated_at FROM {st} st"
        " WHERE st.existing_id IS NULL ORDER BY st.line"
    )
    stage.drop()
    return result


def _flag(stage: Stage) -> str:
    return stage.dialect.int_flag("st.is_available")
