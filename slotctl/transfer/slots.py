"""Import of slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.bounds import CAPACITY
from slotctl.db.models import Exchange, new_uuids
from slotctl.errors import InvalidValue
from slotctl.tabular import Row, Source
from slotctl.transfer.cells import (
    ImportResult,
    Problems,
    Reasons,
    cell_bool,
    cell_date,
    cell_instant,
    cell_int,
    cell_optional_instant,
    cell_time,
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


def _local(day: date, minutes: int, zone: ZoneInfo, column: str) -> datetime:
    wall = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minutes)
    local = wall.replace(tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        clock_time = f"{minutes // 60:02d}:{minutes % 60:02d}"
        raise InvalidValue(f"{column} {day} {clock_time} does not exist in {zone.key} (DST)")
    return instant


_UTC = ZoneInfo("UTC")  # stands in for an unknown exchange's zone when its row is rechecked


def _span_problems(starts: datetime, ends: datetime) -> list[str]:
    """What is wrong with a slot's span (the rules over its two times)."""
    problems = []
    if ends <= starts:
        problems.append("the slot must end after it starts")
    if starts.second or starts.microsecond or ends.second or ends.microsecond:
        problems.append("slot times must be whole minutes")
    return problems


class _SlotParser:
    """One slots row to its staging tuple, or InvalidValue at its first bad cell;
    :meth:`reasons` then checks every cell of that row, with the same methods."""

    def __init__(self, stage: Stage, exchanges: dict[str, Exchange], now: datetime) -> None:
        self.exchanges = exchanges
        self.stamp = stage.stamp
        self.now = now
        self.fresh_uuids: list[str] = []
        self.zones: dict[str, ZoneInfo] = {}

    # One method per cell (or group of cells), each raising InvalidValue with its reason ----

    def uuid(self, v: dict[str, str]) -> str:
        given = (v.get("uuid") or "").strip()
        if given:
            return cell_uuid(given)
        if not self.fresh_uuids:
            self.fresh_uuids.extend(new_uuids(1000))
        return self.fresh_uuids.pop()

    def exchange(self, v: dict[str, str]) -> Exchange:
        slug = v["exchange"].strip()
        exchange = self.exchanges.get(slug)
        if exchange is None:
            raise InvalidValue(f"no exchange {slug!r}" if slug else "exchange is required")
        return exchange

    def zone(self, exchange: Exchange) -> ZoneInfo:
        name = exchange.timezone
        return self.zones.get(name) or self.zones.setdefault(name, ZoneInfo(name))

    @staticmethod
    def instants(v: dict[str, str]) -> bool:
        """The row gives instants (``starts_at``, ``ends_at``), not local times."""
        return bool((v.get("starts_at") or "").strip())

    def capacity(self, v: dict[str, str]) -> int:
        return cell_int(v["max_capacity"], "max_capacity", CAPACITY)

    def available(self, v: dict[str, str]) -> int:
        available = v.get("is_available", "").strip()
        return 1 if not available or cell_bool(available, "is_available") else 0

    def stamp_cell(self, v: dict[str, str], column: str) -> Any:
        return self.stamp(cell_optional_instant(v.get(column, ""), column) or self.now)

    def __call__(self, row: Row) -> tuple[Any, ...]:
        v = row.values
        uuid = self.uuid(v)
        exchange = self.exchange(v)
        zone = self.zone(exchange)
        if self.instants(v):
            starts = cell_instant(v["starts_at"], "starts_at")
            ends = cell_instant(v.get("ends_at") or "", "ends_at")
        else:
            day = cell_date(v.get("date", ""), "date")
            starts = _local(day, cell_time(v.get("start", ""), "start"), zone, "start")
            ends = _local(day, cell_time(v.get("end", ""), "end", True), zone, "end")
        for problem in _span_problems(starts, ends):
            raise InvalidValue(problem)
        stamp = self.stamp
        return (
            row.line,
            uuid,
            exchange.id,
            starts.astimezone(zone).date().isoformat(),
            stamp(starts),
            stamp(ends),
            self.capacity(v),
            self.available(v),
            self.stamp_cell(v, "created_at"),
            self.stamp_cell(v, "updated_at"),
            None,
        )

    def reasons(self, row: Row) -> list[str]:
        """Every reason the row is bad, in the order of its columns (a rule over several
        cells after them): the slow path, for a row that failed."""
        v = row.values
        r = Reasons()
        r(self.uuid, v)
        exchange = r(self.exchange, v)
        zone = _UTC if exchange is None else self.zone(exchange)
        if self.instants(v):
            starts = r(cell_instant, v["starts_at"], "starts_at")
            ends = r(cell_instant, v.get("ends_at") or "", "ends_at")
        else:
            day = r(cell_date, v.get("date", ""), "date")
            start = r(cell_time, v.get("start", ""), "start")
            end = r(cell_time, v.get("end", ""), "end", True)
            starts = ends = None
            if day is not None:  # a time that DST skips is checked in a known zone only
                starts = None if start is None else r(_local, day, start, zone, "start")
                ends = None if end is None else r(_local, day, end, zone, "end")
        if starts is not None and ends is not None:
            for problem in _span_problems(starts, ends):
                r.add(problem)
        r(self.capacity, v)
        r(self.available, v)
        r(self.stamp_cell, v, "created_at")
        r(self.stamp_cell, v, "updated_at")
        return r.found


def import_slots(
    session: Session, stream: Source, *, dry_run: bool = False, accept_changes: bool = False
) -> ImportResult:
    """Import a slots file (see the package's docstring). A slot has no free text, so
    :mod:`.damage` has nothing to check (``accept_changes`` changes nothing)."""
    now = clock.now()
    problems = Problems("slots")
    exchanges = {e.slug: e for e in session.scalars(select(Exchange))}
    stage = Stage(session.connection(), "import_slots", _SLOT_STAGE)
    header: list[str] = []
    stage.load(
        parsed_rows(
            file_rows(stream, "slots", problems, header),
            _SlotParser(stage, exchanges, now),
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
    if result.updated:
        _list_changes(stage, result, differs, blocks, exchanges)
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


def _list_changes(
    stage: Stage,
    result: ImportResult,
    differs: str,
    blocks: bool,
    exchanges: dict[str, Exchange],
) -> None:
    """Each changed field of the updated slots, in file order, streamed: a slot named
    ``slug@YYYY-MM-DDTHH:MM`` (as it is now), its times in its exchange's local time."""
    by_id = {e.id: e for e in exchanges.values()}
    zones: dict[int, ZoneInfo] = {}

    def local(value: Any, exchange_id: int) -> datetime:
        zone = zones.get(exchange_id)
        if zone is None:
            zone = zones[exchange_id] = ZoneInfo(by_id[exchange_id].timezone)
        return stage.dialect.instant(value).astimezone(zone)

    for row in stage.stream(
        "SELECT s.exchange_id, st.exchange_id, s.starts_at, st.starts_at, s.ends_at,"
        " st.ends_at, s.max_capacity, st.max_capacity, s.is_available, st.is_available"
        f" FROM {stage.name} st JOIN time_slots s ON s.id = st.existing_id WHERE {differs}"
        " ORDER BY st.line"
    ):
        old_exchange, new_exchange, old_starts, new_starts, old_ends, new_ends = row[:6]
        starts = local(old_starts, old_exchange)
        name = f"{by_id[old_exchange].slug}@{starts:%Y-%m-%dT%H:%M}"
        fields = [
            ("exchange", by_id[old_exchange].slug, by_id[new_exchange].slug),
            ("starts_at", starts.isoformat(), local(new_starts, new_exchange).isoformat()),
            (
                "ends_at",
                local(old_ends, old_exchange).isoformat(),
                local(new_ends, new_exchange).isoformat(),
            ),
            ("max_capacity", int(row[6]), int(row[7])),
        ]
        if blocks:
            fields.append(("is_available", bool(row[8]), bool(row[9])))
        for field, old, new in fields:
            if old != new:
                result.changes.add(name, field, old, new)


def _flag(stage: Stage) -> str:
    return stage.dialect.int_flag("st.is_available")
