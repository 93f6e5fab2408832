"""UTC offsets of an exchange's timezone inside SQL, for SQLite (which has no zones).

PostgreSQL converts with ``AT TIME ZONE``. On SQLite the offsets in force over
a span of time are few (two changes a year at most), so they become a ``CASE``
on the stored UTC text of ``s.starts_at``, per exchange: exact, and evaluated
in SQLite's engine rather than in Python for every row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlalchemy.sql.elements import BindParameter

from slotctl.db.bulk import sqlite_datetime
from slotctl.db.models import Exchange


def offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """``(from_instant, offset_minutes)`` for every UTC offset in force in [start, end)."""

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset() or timedelta()
        return int(delta.total_seconds() // 60)

    changes = [(start, offset(start))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if offset(following) != changes[-1][1]:
            low, high = day, following  # the change lies in (low, high]: find its minute
            while high - low > timedelta(minutes=1):
                middle = (low + (high - low) / 2).replace(second=0, microsecond=0)
                if middle <= low:
                    middle = low + timedelta(minutes=1)
                if offset(middle) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            changes.append((high, offset(high)))
        day = following
    return changes


def offset_text(minutes: int) -> str:
    """``+01:00``, ``-03:30``: the offset as ISO 8601 (and as an SQLite date modifier)."""
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def sqlite_offsets(
    exchanges: Iterable[Exchange],
    start: datetime,
    end: datetime,
    literal: Callable[[int], str],
    column: str = "s.starts_at",
    exchange_column: str = "s.exchange_id",
    prefix: str = "since",
) -> tuple[str, list[BindParameter[Any]]]:
    """A ``CASE`` giving ``literal(offset_minutes)`` for each row's exchange and instant."""
    params: list[BindParameter[Any]] = []
    branches = []
    for exchange in exchanges:
        changes = offset_changes(ZoneInfo(exchange.timezone), start, end)
        inner = []
        for index, (since, minutes) in enumerate(reversed(changes)):
            if index == len(changes) - 1:
                inner.append(f"ELSE {literal(minutes)}")
                continue
            name = f"{prefix}_{exchange.id}_{len(params)}"
            params.append(bindparam(name, sqlite_datetime(since)))
            inner.append(f"WHEN {column} >= :{name} THEN {literal(minutes)}")
        offset = (
            inner[0].removeprefix("ELSE ") if len(inner) == 1 else f"CASE {' '.join(inner)} END"
        )
        branches.append(f"WHEN {exchange.id} THEN {offset}")
    if not branches:
        return literal(0), params
    return f"CASE {exchange_column} {' '.join(branches)} ELSE {literal(0)} END", params
