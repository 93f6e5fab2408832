"""Import of bookings: whole-file checks, the lifecycle, and the writes (reading the
file: :mod:`.booking_rows`)."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import islice

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.records import BOOKING_FIELDS
from slotctl.services import seats
from slotctl.services.bookings import draw_reference
from slotctl.tabular import Source
from slotctl.transfer import damage
from slotctl.transfer.booking_rows import (
    COLUMNS,
    PARSED,
    STAGE,
    STAMPS,
    TIMES,
    booking_rows,
    repeated_refused,
)
from slotctl.transfer.cells import (
    BATCH,
    ImportResult,
    Problems,
)
from slotctl.transfer.staging import Refused, Stage, duplicates, lock_slots
from slotctl.wording import counted


def import_bookings(
    session: Session,
    stream: Source,
    *,
    actor: str,
    dry_run: bool = False,
    accept_changes: bool = False,
) -> ImportResult:
    """Import a bookings file (see the module's docstring).

    The checks that need the whole picture (references, a customer's active booking,
    capacity) are also the database's own constraints, so a file that breaks none of
    them is written without running them: inside a savepoint, and on a constraint
    violation, or with bad rows already found, or on a dry run, the checks run as SQL
    over the staged rows and every bad row is reported, nothing written. Values that
    look damaged by a spreadsheet (:mod:`.damage`) are bad rows unless
    ``accept_changes``; the changed fields of the updated bookings are listed.
    """
    now = clock.now()
    problems = Problems("bookings")
    stage = Stage(session.connection(), "import_bookings", STAGE)
    header: list[str] = []
    refused: dict[str, int] = {}
    stage.load(booking_rows(stream, stage, now, problems, header, refused), PARSED)
    st = stage.name
    repeated_refused(stage, refused, problems)
    # The slots the file books, and those its bookings leave: locked in one statement (in
    # id order, as every path that takes seats locks them), so it cannot deadlock.
    lock_slots(
        stage,
        f"SELECT slot_id FROM {st} UNION"
        f" SELECT b.time_slot_id FROM bookings b JOIN {st} st ON st.uuid = b.uuid",
    )
    # With no booking in the database (a fresh import), the checks against it are skipped.
    has_bookings = bool(stage.sql("SELECT 1 FROM bookings LIMIT 1"))
    if not stage.unique_index("uuid"):
        problems.extend(duplicates(stage, "uuid", "uuid"))
    if has_bookings:
        stage.sql(
            f"UPDATE {st} SET existing_id = b.id, old_status = b.status,"
            f" old_slot_id = b.time_slot_id FROM bookings b WHERE b.uuid = {st}.uuid"
        )
        # A booking keeps its status when the file gives none (no column, or a blank cell).
        stage.sql(f"UPDATE {st} SET status = old_status WHERE status IS NULL")
    stage.sql(f"UPDATE {st} SET status = 'pending' WHERE status IS NULL")
    if stage.sql(f"SELECT 1 FROM {st} WHERE ref_given = 0 LIMIT 1"):
        _redraw_references(stage)
    changes = _lifecycle(stage, problems, header, now, has_bookings=has_bookings)

    # Only the columns the file has are compared and updated: a column left out keeps
    # its value (created_at and updated_at also when their cell is empty), but a status
    # change sets the timestamp its transition sets (see _lifecycle).
    updatable = [c for c in COLUMNS if c in header or c in domain.STAMP_COLUMNS]
    kept = {*STAMPS, *(c for c in domain.STAMP_COLUMNS if c not in header)}
    result = ImportResult("bookings", dry_run=dry_run)
    if has_bookings:
        differs = " OR ".join(
            [
                f"(st.{c} IS NOT NULL AND {stage.distinct(f'b.{c}', f'st.{c}')})"
                if c in kept
                else f"(st.ref_given = 1 AND {stage.distinct('b.reference', 'st.reference')})"
                if c == "reference"
                else stage.distinct(f"b.{c}", f"st.{c}")
                for c in updatable
            ]
            + [stage.distinct("b.time_slot_id", "st.slot_id")]
        )
        stage.sql(
            f"UPDATE {st} AS st SET changed = 1 FROM bookings b"
            f" WHERE b.id = st.existing_id AND ({differs})"
        )
    ((total, result.created, result.updated, garbled),) = stage.sql(
        "SELECT count(*), COALESCE(sum(CASE WHEN existing_id IS NULL THEN 1 ELSE 0 END), 0),"
        " COALESCE(sum(CASE WHEN changed = 1 THEN 1 ELSE 0 END), 0),"
        f" COALESCE(sum(CASE WHEN garbled IS NOT NULL THEN 1 ELSE 0 END), 0) FROM {st}"
    )
    result.unchanged = total - result.created - result.updated
    if not accept_changes:
        _damage(stage, problems, updatable, updated=bool(result.updated), garbled=bool(garbled))
    if problems.count or dry_run:
        _diagnose_bookings(stage, problems, has_bookings)
        problems.raise_if_any()
    if result.updated:
        _list_changes(stage, result, updatable, kept)
    if dry_run or total == result.unchanged:
        stage.drop()
        return result

    stage.sql("SAVEPOINT slotctl_import")
    try:
        _write_bookings(session, stage, result, updatable, kept, changes, now, actor)
    except (Refused, IntegrityError):
        stage.sql("ROLLBACK TO SAVEPOINT slotctl_import")
        _diagnose_bookings(stage, problems, has_bookings)
        problems.raise_if_any()
        raise
    stage.sql("RELEASE SAVEPOINT slotctl_import")
    return result  # the staging table goes with the connection (or the commit, on PostgreSQL)


def _new_value(column: str, kept: set[str]) -> str:
    """SQL: what an updated booking's ``column`` becomes (as _write_bookings sets it)."""
    if column in kept:
        return f"COALESCE(st.{column}, b.{column})"
    if column == "reference":
        return "CASE WHEN st.ref_given = 1 THEN st.reference ELSE b.reference END"
    return f"st.{column}"


def _damage(
    stage: Stage, problems: Problems, updatable: list[str], *, updated: bool, garbled: bool
) -> None:
    """The rows whose values look damaged by a spreadsheet (:mod:`.damage`): a changed
    text field that lost its leading zeros (set-based, over the updated rows), or a
    garbled text cell (flagged by the parser) of a new booking or of a changed field."""
    st = stage.name
    texts = damage.TEXT["bookings"]
    compared = [c for c in texts if c in updatable]
    if updated and compared:
        conditions = [
            ("st.ref_given = 1 AND " if c == "reference" else "")
            + damage.lost_zeros_sql(f"b.{c}", f"st.{c}")
            for c in compared
        ]
        flags = ", ".join(f"CASE WHEN {condition} THEN 1 ELSE 0 END" for condition in conditions)
        values = ", ".join(f"b.{c}, st.{c}" for c in compared)
        for line, *rest in stage.sql(
            f"SELECT st.line, {flags}, {values} FROM {st} st"
            " JOIN bookings b ON b.id = st.existing_id"
            f" WHERE st.changed = 1 AND ({' OR '.join(conditions)})"
        ):
            for k, column in enumerate(compared):
                if rest[k]:
                    old, new = rest[len(compared) + 2 * k : len(compared) + 2 * k + 2]
                    problems.add(line, damage.zeros_reason(column, old, new))
    if garbled:
        values = ", ".join(f"b.{c}, st.{c}" for c in texts)
        for line, existing, cells, *pairs in stage.sql(
            f"SELECT st.line, st.existing_id, st.garbled, {values} FROM {st} st"
            " LEFT JOIN bookings b ON b.id = st.existing_id"
            " WHERE st.garbled IS NOT NULL AND (st.existing_id IS NULL OR st.changed = 1)"
        ):
            found = json.loads(cells)
            for k, column in enumerate(texts):
                if column not in found:
                    continue
                old, new = pairs[2 * k : 2 * k + 2]
                if existing is None or (column in updatable and old != new):
                    text = found[column]
                    fixed = damage.garbled(text)
                    if fixed is not None:
                        problems.add(line, damage.garbled_reason(column, text, fixed))


_TIMES = frozenset(TIMES)
_NAMED_SLOTS = 100_000  # slot names kept while listing changes


def _list_changes(stage: Stage, result: ImportResult, updatable: list[str], kept: set[str]) -> None:
    """Each changed field of the updated bookings, in file order, streamed: a booking
    named by its reference (as it is now), its slot as ``slug@YYYY-MM-DDTHH:MM``, its
    instants as the export writes them. ``updated_at``, where the import sets it itself
    (a file without that column), is not listed."""
    st = stage.name
    utc = stage.dialect.utc_text
    fields = [c for c in BOOKING_FIELDS if c in updatable or c == "slot"]  # in their order

    def shown(expression: str, column: str) -> str:
        return utc(expression) if column in _TIMES else expression

    values = ", ".join(
        f"{shown(f'b.{c}', c)}, {shown(_new_value(c, kept), c)}" for c in fields if c != "slot"
    )
    rows = stage.stream(
        f"SELECT b.reference, b.time_slot_id, st.slot_id, {values} FROM {st} st"
        " JOIN bookings b ON b.id = st.existing_id WHERE st.changed = 1 ORDER BY st.line"
    )
    names: dict[int, str] = {}
    add = result.changes.add
    while chunk := list(islice(rows, BATCH)):
        moved = [(old, new) for _, old, new, *_ in chunk if old != new]
        if len(names) > _NAMED_SLOTS:
            names.clear()
        stage.slot_names((id_ for pair in moved for id_ in pair), names)
        for reference, old_slot, new_slot, *pairs in chunk:
            values_of = iter(pairs)
            for column in fields:
                if column == "slot":
                    if old_slot != new_slot:
                        add(reference, column, names[old_slot], names[new_slot])
                    continue
                old, new = next(values_of), next(values_of)
                if old != new:
                    add(reference, column, old, new)


Step = tuple[str, str, int | None, tuple[domain.Transition, ...]]


def _lifecycle(
    stage: Stage, problems: Problems, header: list[str], now: datetime, *, has_bookings: bool
) -> list[Step]:
    """The booking lifecycle over the staged rows; the status changes of existing
    bookings, as distinct ``(from, to, started, chain)``: ``started`` (1 or 0, the
    staged rows' ``started``) where the chain depends on whether the slot has started
    (before it, a booking is completed through a check-in), else None.

    A status change must be a transition the commands allow, or a chain of them
    (:func:`slotctl.domain.chain`); it gets the timestamps those transitions set where
    the file leaves them blank. Then every row's timestamps must agree with its status
    (:data:`slotctl.domain.STAMPS`), new bookings' too. Rows that break either are bad.
    """
    st = stage.name
    stamp = stage.stamp(now)
    pairs: list[tuple[str, str]] = []
    if has_bookings:
        pairs = [
            (str(old), str(new))
            for old, new in stage.sql(
                f"SELECT DISTINCT old_status, status FROM {st}"
                " WHERE existing_id IS NOT NULL AND old_status <> status"
            )
        ]
    if pairs:  # a status change happens now, whatever the file's updated_at says
        stage.sql(
            f"UPDATE {st} SET updated_at = ? WHERE existing_id IS NOT NULL"
            " AND old_status <> status",
            [stamp],
        )
    changes = _chains(stage, pairs, problems, stamp)
    for old, new, started, path in changes:
        _chain_stamps(stage, old, new, started, path, stamp)
    # A new booking in a file without a timestamp column gets the timestamps its status
    # needs as a command would set them (``bookings create --confirm``: confirmed now).
    left_out = [c for c in domain.STAMP_COLUMNS if c not in header]
    for status, stamps in domain.STAMPS.items():
        for column in left_out:
            if stamps[column]:
                stage.sql(
                    f"UPDATE {st} SET {column} = ? WHERE existing_id IS NULL AND status = ?",
                    [stamp, status],
                )
    # The timestamps the bookings will have: a column the file leaves out keeps its value.
    final = ", ".join(
        f"COALESCE(st.{c}, b.{c}) AS {c}" if c in left_out and has_bookings else f"st.{c}"
        for c in domain.STAMP_COLUMNS
    )
    join = " LEFT JOIN bookings b ON b.id = st.existing_id" if left_out and has_bookings else ""
    problems.extend(
        (line, f"{problem} (its timestamps must agree with its status)")
        for line, problem in stage.sql(
            f"SELECT line, problem FROM (SELECT f.line, {seats.stamp_problem_sql('f')} AS problem"
            f" FROM (SELECT st.line, st.status, {final} FROM {st} st{join}) f) x"
            " WHERE problem IS NOT NULL"
        )
    )
    return changes


def _chains(
    stage: Stage, pairs: list[tuple[str, str]], problems: Problems, stamp: object
) -> list[Step]:
    """Each status change's chain (:func:`slotctl.domain.chain`), and its rows that no
    chain allows as bad rows; where the chain depends on whether the slot has started,
    the rows' ``started`` is set and each chain is a step of its own."""
    st = stage.name
    changes: list[Step] = []
    for old, new in pairs:
        if domain.chain(old, new, started=False) is None:  # the slot's start may matter
            for line, started in stage.sql(
                f"SELECT st.line, CASE WHEN s.starts_at <= ? THEN 1 ELSE 0 END FROM {st} st"
                " JOIN time_slots s ON s.id = st.slot_id"
                " WHERE st.existing_id IS NOT NULL AND st.old_status = ? AND st.status = ?",
                [stamp, old, new],
            ):
                refusal = domain.chain_refusal(old, new, started=bool(started))
                if refusal is not None:
                    problems.add(line, refusal)
        late = domain.chain(old, new, started=True) or ()
        early = domain.chain(old, new, started=False)
        if early is None or early == late:
            changes.append((old, new, None, late))
        else:  # the rows of this change take one chain or the other
            stage.sql(
                f"UPDATE {st} SET started = CASE WHEN EXISTS (SELECT 1 FROM time_slots s"
                f" WHERE s.id = {st}.slot_id AND s.starts_at <= ?) THEN 1 ELSE 0 END"
                " WHERE existing_id IS NOT NULL AND old_status = ? AND status = ?",
                [stamp, old, new],
            )
            changes += [(old, new, 1, late), (old, new, 0, early)]
    return changes


def _chain_stamps(
    stage: Stage,
    old: str,
    new: str,
    started: int | None,
    path: tuple[domain.Transition, ...],
    stamp: object,
) -> None:
    """The timestamps the chain ``path`` sets on the rows going from ``old`` to ``new``
    where the file leaves them blank, as a command sets them (domain.stamps_to_set):
    each step's own timestamp, and those its status needs that the booking lacks
    (arriving confirms a pending booking)."""
    st = stage.name
    own = {t.stamp for t in path if t.stamp is not None}
    which = "" if started is None else f" AND started = {int(started)}"
    for column in sorted({c for t in path for c in domain.stamps_to_set(t, {})}):
        lacks = (
            ""
            if column in own
            else f" AND EXISTS (SELECT 1 FROM bookings b WHERE b.id = {st}.existing_id"
            f" AND b.{column} IS NULL)"
        )
        stage.sql(
            f"UPDATE {st} SET {column} = ? WHERE existing_id IS NOT NULL"
            f" AND old_status = ? AND status = ?{which} AND {column} IS NULL{lacks}",
            [stamp, old, new],
        )


def _write_bookings(
    session: Session,
    stage: Stage,
    result: ImportResult,
    updatable: list[str],
    kept: set[str],
    changes: list[Step],
    now: datetime,
    actor: str,
) -> None:
    """Update the changed bookings, insert the new ones, write their events, recount."""
    st = stage.name
    stamp = stage.stamp(now)
    if result.updated:
        assignments = [
            f"{c} = COALESCE(st.{c}, bookings.{c})"
            if c in kept
            else "reference = CASE WHEN st.ref_given = 1 THEN st.reference"
            " ELSE bookings.reference END"
            if c == "reference"
            else f"{c} = st.{c}"
            for c in updatable
        ]
        if "updated_at" not in updatable:
            assignments.append("updated_at = ?")
        stage.sql(
            f"UPDATE bookings SET {', '.join(assignments)}, time_slot_id = st.slot_id,"
            f" exchange_id = st.exchange_id FROM {st} st"
            " WHERE bookings.id = st.existing_id AND st.changed = 1",
            [] if "updated_at" in updatable else [stamp],
        )
        # The audit events the commands write: one per transition of the chain.
        for old, new, started, path in changes:
            which = "" if started is None else f" AND st.started = {int(started)}"
            previous = old
            for step in path:
                seats.events(
                    session,
                    f"SELECT st.existing_id AS booking_id, '{previous}' AS from_status,"
                    f" '{step.target}' AS to_status FROM {st} st WHERE st.changed = 1"
                    f" AND st.old_status = '{old}' AND st.status = '{new}'{which}",
                    actor=actor,
                    note="imported",
                    now=now,
                )
                previous = step.target
        for old, new in dict.fromkeys((old, new) for old, new, _, _ in changes):
            _follow_tickets(stage, old, new, stamp)
    ((before,),) = stage.sql("SELECT COALESCE(max(id), 0) FROM bookings")
    columns = ", ".join(COLUMNS)
    values = ", ".join(f"COALESCE({c}, ?)" if c in STAMPS else c for c in COLUMNS)
    stage.sql(
        f"INSERT INTO bookings (uuid, time_slot_id, exchange_id, {columns})"
        f" SELECT uuid, slot_id, exchange_id, {values} FROM {st}"
        " WHERE existing_id IS NULL ORDER BY line",
        [stamp, stamp],
    )
    seats.events(
        session,
        "SELECT bookings.id AS booking_id, CAST(NULL AS TEXT) AS from_status,"
        f" bookings.status AS to_status {stage.dialect.new_rows(int(before), st)}",
        actor=actor,
        note="imported",
        now=now,
    )
    # The capacity check of time_slots refuses a count above capacity: overbooking.
    seats.recount(session, now, f"SELECT slot_id FROM {st} UNION SELECT old_slot_id FROM {st}")


def _follow_tickets(stage: Stage, old: str, new: str, stamp: object) -> None:
    """The queued tickets of arrived bookings the file completes, misses or cancels leave
    the queue with them (:data:`slotctl.domain.TICKET_AFTER_BOOKING`), as when a command
    does it (``served`` sets ``served_at``)."""
    status = domain.TICKET_AFTER_BOOKING.get(new)
    if old != domain.ARRIVED or status is None:
        return
    queued = ", ".join(f"'{s}'" for s in domain.QUEUED_STATUSES)
    served = ", served_at = ?" if status == domain.SERVED else ""
    stage.sql(
        f"UPDATE tickets SET status = ?, updated_at = ?{served} WHERE status IN ({queued})"
        f" AND booking_id IN (SELECT existing_id FROM {stage.name} WHERE changed = 1"
        " AND old_status = ? AND status = ?)",
        [status, stamp, *([stamp] if served else []), old, new],
    )


def _diagnose_bookings(stage: Stage, problems: Problems, has_bookings: bool) -> None:
    """Every row that breaks a reference, a customer's single active booking per slot, or
    a slot's capacity, with the reason."""
    st = stage.name
    if not stage.unique_index("reference"):
        problems.extend(duplicates(stage, "reference", "reference"))
    if has_bookings:
        problems.extend(
            (line, f"reference {reference} belongs to another booking ({other})")
            for line, reference, other in stage.sql(
                f"SELECT st.line, st.reference, b.uuid FROM {st} st"
                " JOIN bookings b ON b.reference = st.reference WHERE b.uuid <> st.uuid"
                f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = b.uuid)"
            )
        )
    stage.sql(f"CREATE INDEX {st}_slot ON {st} (slot_id, line)")
    active, holding = seats.ACTIVE, seats.HOLDING
    in_database = (
        " LEFT JOIN bookings b ON b.time_slot_id = st.slot_id"
        f" AND b.customer_email = st.customer_email AND b.status IN ({active})"
        f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = b.uuid)"
        if has_bookings
        else " LEFT JOIN (SELECT CAST(NULL AS INTEGER) AS id, '' AS reference) b ON 0 = 1"
    )
    problems.extend(
        (line, f"{email} already holds an active booking for this slot{where}")
        for line, email, where in stage.sql(
            f"SELECT st.line, st.customer_email, CASE WHEN b.id IS NOT NULL"
            f" THEN ' (' || b.reference || ')' ELSE ' (line ' || CAST(d.first AS TEXT) || ')' END"
            f" FROM {st} st"
            f" LEFT JOIN (SELECT slot_id, customer_email, min(line) AS first FROM {st}"
            f"  WHERE status IN ({active}) GROUP BY slot_id, customer_email) d"
            "  ON d.slot_id = st.slot_id AND d.customer_email = st.customer_email"
            f"  AND d.first < st.line{in_database}"
            f" WHERE st.status IN ({active}) AND (d.first IS NOT NULL OR b.id IS NOT NULL)"
        )
    )
    kept = (
        "SELECT b.time_slot_id, count(*) AS n FROM bookings b"
        f" JOIN (SELECT DISTINCT slot_id FROM {st}) t ON t.slot_id = b.time_slot_id"
        f" WHERE b.status IN ({holding})"
        f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = b.uuid) GROUP BY b.time_slot_id"
        if has_bookings
        else "SELECT CAST(NULL AS INTEGER) AS time_slot_id, 0 AS n WHERE 0 = 1"
    )
    problems.extend(
        (
            line,
            f"would overbook slot {slot}: {counted(capacity, 'seat')}, {taken} taken by other "
            "bookings",
        )
        for line, slot, capacity, taken in stage.sql(
            f"WITH kept AS ({kept}),"
            " ranked AS (SELECT line, slot_id,"
            f" row_number() OVER (PARTITION BY slot_id ORDER BY line) AS k FROM {st}"
            f" WHERE status IN ({holding}) AND slot_id IS NOT NULL)"
            " SELECT r.line, s.uuid, s.max_capacity, COALESCE(kept.n, 0) FROM ranked r"
            " JOIN time_slots s ON s.id = r.slot_id"
            " LEFT JOIN kept ON kept.time_slot_id = r.slot_id"
            " WHERE r.k + COALESCE(kept.n, 0) > s.max_capacity"
        )
    )


def _redraw_references(stage: Stage) -> None:
    """Generated references that collide (with the database or each other) are drawn again."""
    st = stage.name
    stage.sql(f"CREATE INDEX {st}_drawn ON {st} (reference)")
    for _ in range(20):
        taken = stage.sql(
            f"SELECT st.line FROM {st} st WHERE st.ref_given = 0 AND (EXISTS (SELECT 1 FROM"
            " bookings b WHERE b.reference = st.reference AND b.uuid <> st.uuid) OR EXISTS"
            f" (SELECT 1 FROM {st} o WHERE o.reference = st.reference AND o.line <> st.line"
            " AND (o.ref_given = 1 OR o.line < st.line)))"
        )
        if not taken:
            return
        for (line,) in taken:
            stage.sql(f"UPDATE {st} SET reference = ? WHERE line = ?", [draw_reference(), line])
