"""Reading a bookings file: each row parsed on its own by position (millions of rows
go through here), its slot resolved a batch at a time, and staged."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any

from slotctl import domain
from slotctl.db.models import new_uuids
from slotctl.errors import InvalidValue
from slotctl.records import BOOKING_FIELDS
from slotctl.services.bookings import draw_reference
from slotctl.services.queue import COUNTER_LIMIT
from slotctl.tabular import Source, check_header, decode_cell, read_cells
from slotctl.transfer import damage
from slotctl.transfer.cells import (
    BATCH,
    CANONICAL_UUID,
    REQUIRED,
    Emails,
    Problems,
    Reasons,
    cell_uuid,
)
from slotctl.transfer.export import FIELDS
from slotctl.transfer.staging import Stage

STAGE = (
    ("line", "int"),
    ("uuid", "text"),
    ("reference", "text"),
    ("ref_given", "int"),
    ("slot_uuid", "text"),
    ("customer_name", "text"),
    ("customer_email", "text"),
    ("customer_phone", "text"),
    ("notes", "text"),
    ("status", "text"),
    ("created_at", "ts"),
    ("updated_at", "ts"),
    ("confirmed_at", "ts"),
    ("completed_at", "ts"),
    ("cancelled_at", "ts"),
    ("cancellation_reason", "text"),
    ("arrived_at", "ts"),
    ("called_at", "ts"),
    ("counter", "text"),
    ("garbled", "text"),  # the text cells that look garbled (JSON: column -> cell), or null
    ("slot_id", "int"),
    ("exchange_id", "int"),
    ("existing_id", "int"),
    ("old_status", "text"),
    ("old_slot_id", "int"),
    ("changed", "int"),
    ("started", "int"),  # its slot has started (only where a status change depends on it)
)
# Slots remembered between batches: files come in slot order, so a small cache hits as
# often as a big one, and memory stays flat (a slot costs ~250 bytes here).
SLOT_CACHE = 10_000
PARSED = 22  # columns the parser fills (slot_id and exchange_id included)
# A booking's own columns: its fields less the uuid and those derived from its slot.
COLUMNS = tuple(
    f for f in BOOKING_FIELDS if f not in ("uuid", "exchange", "slot", "starts_at", "ends_at")
)
STAMPS = ("created_at", "updated_at")
# Every instant column of a booking, in the order of its stage.
TIMES = (*STAMPS, "confirmed_at", "completed_at", "cancelled_at", "arrived_at", "called_at")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")


class _Parser:
    """One bookings row (cells by position) to its staging tuple, or InvalidValue.

    The hot loop of an import of millions of rows: only free-text cells are
    un-neutralised, canonical uuids and instants skip the general parsers. It stops at
    the first bad cell; :meth:`reasons` then checks every cell of that row, with the
    same methods, for all of its reasons.
    """

    def __init__(self, columns: list[str], stage: Stage, now: datetime) -> None:
        index = {column: i for i, column in enumerate(columns)}
        self.i = {column: index.get(column, -1) for column in FIELDS["bookings"]}
        self.emails = Emails()
        self.instant = stage.instant
        self.now = stage.stamp(now)
        self.fresh_uuids: list[str] = []
        self.times = [(self.i[c], c) for c in TIMES]
        checks: dict[str, Callable[[list[str]], object]] = {
            "uuid": self.uuid,
            "reference": self.reference,
            "slot": self.slot,
            "customer_name": self.name,
            "customer_email": self.email,
            "customer_phone": self.phone,
            "notes": self.notes,
            "status": self.status,
            **{c: partial(self.stamp, i, c) for i, c in self.times if i >= 0},
            "cancellation_reason": self.reason,
            "counter": self.counter,
        }
        self.checks = [checks[c] for c in FIELDS["bookings"] if c in checks]  # in this order
        # The free-text cells damage.garbled looks at (a row all ASCII skips them).
        self.texts = [(self.i[c], c) for c in damage.TEXT["bookings"] if self.i[c] >= 0]

    def text(self, cells: list[str], column: str) -> str:
        i = self.i[column]
        if i < 0:
            return ""
        value = cells[i]
        return decode_cell(value) if value[:1] == "'" else value

    def plain(self, cells: list[str], column: str) -> str:
        i = self.i[column]
        return cells[i].strip() if i >= 0 else ""

    # One method per cell, each raising InvalidValue with its reason -----------------------

    def uuid(self, cells: list[str]) -> str:
        uuid = self.plain(cells, "uuid")
        if not uuid:
            if not self.fresh_uuids:
                self.fresh_uuids.extend(new_uuids(1000))
            return self.fresh_uuids.pop()
        return uuid if CANONICAL_UUID.match(uuid) else cell_uuid(uuid)

    def reference(self, cells: list[str]) -> str:
        reference = self.plain(cells, "reference")
        if reference and not _REFERENCE.match(reference):
            raise InvalidValue(f"invalid reference {reference!r}: up to 16 letters and digits")
        return reference

    def status(self, cells: list[str]) -> str | None:
        status = self.plain(cells, "status")
        if status in domain.BOOKING_STATUSES:
            return status
        if not status:
            return None  # kept for an existing booking, pending for a new one
        return domain.parse_status(status)

    def slot(self, cells: list[str]) -> str:
        slot = self.plain(cells, "slot")
        if not slot:
            raise InvalidValue("slot is required")
        return slot if CANONICAL_UUID.match(slot) else cell_uuid(slot, "slot")

    def name(self, cells: list[str]) -> str:
        return domain.customer_name(self.text(cells, "customer_name") or None, "customer_name")

    def email(self, cells: list[str]) -> str:
        email = self.text(cells, "customer_email")
        if not email.strip():
            raise InvalidValue("customer_email is required")
        return self.emails(email)

    def phone(self, cells: list[str]) -> str | None:
        phone = self.text(cells, "customer_phone")
        return domain.phone(phone) if phone else None

    def notes(self, cells: list[str]) -> str | None:
        return domain.notes(self.text(cells, "notes") or None)

    def reason(self, cells: list[str]) -> str | None:
        return domain.reason(self.text(cells, "cancellation_reason") or None, "cancellation_reason")

    def counter(self, cells: list[str]) -> str | None:
        return domain.clean_text(self.text(cells, "counter") or None, "counter", COUNTER_LIMIT)

    def stamp(self, i: int, column: str, cells: list[str]) -> Any:
        return self.instant(cells[i], column)

    def garbled(self, cells: list[str]) -> str | None:
        """The row's text cells that look garbled (:func:`.damage.garbled`), as JSON
        ``{column: cell}``, or None: whether that is damage depends on the stored
        record (a value the file repeats is not), judged once the row is staged. (The
        hot loop asks only for a row that is not all ASCII.)"""
        found = {}
        for i, column in self.texts:
            value = cells[i]
            text = decode_cell(value) if value[:1] == "'" else value
            if damage.garbled(text) is not None:
                found[column] = text
        return json.dumps(found, ensure_ascii=False) if found else None

    def __call__(self, line: int, cells: list[str]) -> tuple[Any, ...]:
        uuid = self.uuid(cells)
        reference = self.reference(cells)
        instant = self.instant
        times = [instant(cells[i], c) if i >= 0 and cells[i] else None for i, c in self.times]
        return (
            line,
            uuid,
            reference or draw_reference(),
            1 if reference else 0,
            self.slot(cells),
            self.name(cells),
            self.email(cells),
            self.phone(cells),
            self.notes(cells),
            self.status(cells),
            times[0],  # created_at and updated_at: null when not given (see import_bookings)
            times[1],
            times[2],
            times[3],
            times[4],
            self.reason(cells),
            times[5],  # arrived_at
            times[6],  # called_at
            self.counter(cells),
            None if "".join(cells).isascii() else self.garbled(cells),
        )

    def reasons(self, cells: list[str]) -> list[str]:
        """Every reason the row is bad, in the order of its columns (the slow path)."""
        found = Reasons()
        for check in self.checks:
            found(check, cells)
        return found.found


def booking_rows(
    stream: Source,
    stage: Stage,
    now: datetime,
    problems: Problems,
    header: list[str],
    refused: dict[str, int],
) -> Iterator[tuple[Any, ...]]:
    """Every good row of a bookings file as a staging tuple, its slot resolved to ids a
    batch at a time; bad rows go to ``problems`` (and their uuids to ``refused``, so
    that a good row repeating one is reported too); the file's columns to ``header``."""
    columns, rows = read_cells(stream, "bookings")
    check_header(columns, FIELDS["bookings"], REQUIRED["bookings"], "bookings")
    header.extend(columns)
    parse = _Parser(columns, stage, now)
    slots: dict[str, tuple[int, int]] = {}
    batch: list[tuple[Any, ...]] = []
    for line, cells in rows:
        if isinstance(cells, str):
            problems.add(line, cells)
            continue
        try:
            batch.append(parse(line, cells))
        except InvalidValue as exc:
            for reason in parse.reasons(cells) or [exc.message]:
                problems.add(line, reason)
            uuid = parse.plain(cells, "uuid").lower()
            if uuid:
                if uuid in refused:
                    problems.add(line, f"duplicate uuid {uuid} (also on line {refused[uuid]})")
                refused.setdefault(uuid, line)
            continue
        if len(batch) >= BATCH:
            yield from _with_slots(batch, slots, stage, problems, refused)
    yield from _with_slots(batch, slots, stage, problems, refused)


def _with_slots(
    batch: list[tuple[Any, ...]],
    slots: dict[str, tuple[int, int]],
    stage: Stage,
    problems: Problems,
    refused: dict[str, int],
) -> Iterator[tuple[Any, ...]]:
    """The batch's rows with ``(slot_id, exchange_id)`` appended (a cache of known slots
    saves the lookups); rows whose slot does not exist are reported. Empties the batch."""
    if len(slots) > SLOT_CACHE:  # before choosing what to fetch: the batch needs all
        slots.clear()
    wanted = {row[4] for row in batch if row[4] not in slots}
    if wanted:
        slots.update(stage.slot_ids(wanted))
    for row in batch:
        found = slots.get(row[4])
        if found is None:
            problems.add(row[0], f"no slot with uuid {row[4]}")
            refused.setdefault(row[1], row[0])
            continue
        yield (*row, *found)
    batch.clear()


def repeated_refused(stage: Stage, refused: dict[str, int], problems: Problems) -> None:
    """Good rows whose uuid a bad row also has are duplicates too."""
    wanted = list(refused)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for line, uuid in stage.sql(
            f"SELECT line, uuid FROM {stage.name} WHERE uuid IN ({marks})", chunk
        ):
            first, second = sorted((line, refused[uuid]))
            problems.add(second, f"duplicate uuid {uuid} (also on line {first})")
