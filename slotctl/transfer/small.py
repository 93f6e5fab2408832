"""The small record types (exchanges, hours, closures) go through the ORM, with the
same validation as the commands that create them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl.db.models import Exchange
from slotctl.errors import InvalidValue
from slotctl.tabular import Row, Source
from slotctl.transfer import damage
from slotctl.transfer.cells import ImportResult, Problems, add_reasons, cell_uuid, file_rows


@dataclass
class Small:
    problems: Problems
    exchanges: dict[str, int] = field(default_factory=dict)  # slug -> id
    uuids: dict[str, int] = field(default_factory=dict)
    # line -> {column: the cell's text}: the text cells of good rows that are not ASCII
    # (what damage.garbled looks at, once the record they would change is known)
    texts: dict[int, dict[str, str]] = field(default_factory=dict)

    def unique_uuid(self, row: Row) -> str | None:
        given = (row.values.get("uuid") or "").strip()
        if not given:
            return None
        value = cell_uuid(given)
        if value in self.uuids:
            raise InvalidValue(f"duplicate uuid {value} (also on line {self.uuids[value]})")
        self.uuids[value] = row.line
        return value

    def exchange_id(self, row: Row) -> int:
        """The id of the exchange a row of an exchange's names."""
        slug = row.values["exchange"].strip()
        if slug not in self.exchanges:
            raise InvalidValue(f"no exchange {slug!r}")
        return self.exchanges[slug]


def collect(
    stream: Source,
    kind: str,
    parse: Callable[[Row, Small], Any],
    exchanges: dict[str, int] | None = None,
) -> tuple[list[Any], Small]:
    """Every row of the file parsed (``exchanges``: the slugs rows may name), and the
    problems of those that did not parse (``parse`` raises :class:`.cells.BadRow` with
    every reason a row is bad: it checks each cell with :class:`.cells.Reasons`)."""
    small = Small(Problems(kind), exchanges or {})
    parsed = []
    text_columns = damage.TEXT[kind]
    for row in file_rows(stream, kind, small.problems):
        try:
            parsed.append(parse(row, small))
        except InvalidValue as exc:
            add_reasons(small.problems, row.line, exc)
            continue
        texts = {
            column: value
            for column in text_columns
            if not (value := row.values.get(column) or "").isascii()
        }
        if texts:
            small.texts[row.line] = texts
    return parsed, small


Item = tuple[str | None, dict[str, Any], int]  # (uuid, column values, line)
# The changed column values of a stored row as (field, old, new) of its record.
Listing = Callable[[Any, dict[str, Any]], Iterable[tuple[str, Any, Any]]]
LOOKUP = 500  # uuids per query


def existing_rows(session: Session, model: Any, uuids: list[str]) -> dict[str, Any]:
    """The rows of ``model`` with these uuids (those that exist), by uuid."""
    found: dict[str, Any] = {}
    for start in range(0, len(uuids), LOOKUP):
        chunk = uuids[start : start + LOOKUP]
        found.update(
            (row.uuid, row) for row in session.scalars(select(model).where(model.uuid.in_(chunk)))
        )
    return found


def apply(
    session: Session,
    kind: str,
    model: Any,
    items: list[Item],
    small: Small,
    describe: Callable[[Any], str],
    *,
    dry_run: bool,
    accept_changes: bool = False,
    defaults: dict[str, Any] | None = None,
    listing: Listing | None = None,
) -> ImportResult:
    """Upsert ORM rows by uuid: update the values given when one differs (a column the
    file leaves out, or an empty optional cell, keeps its value), insert otherwise (with
    ``defaults`` for what is not given). Each changed field is listed under the record's
    name (``describe``): by default as the column and its value (an exchange by its
    slug), else as ``listing`` words the changed values of a row, as record fields; a
    value that looks damaged by a spreadsheet (:mod:`.damage`) is a bad row unless
    ``accept_changes``. Raises the file's bad rows, if any, first."""
    result = ImportResult(kind, dry_run=dry_run)
    existing = existing_rows(session, model, [u for u, _, _ in items if u is not None])
    slugs = {id_: slug for slug, id_ in small.exchanges.items()}

    def fields(row: Any, changed: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
        for key, value in changed.items():
            old = getattr(row, key)
            if key == "exchange_id":  # an exchange is shown by its slug
                yield "exchange", slugs.get(old), slugs.get(value)
            else:
                yield key, shown(old), shown(value)

    writes: list[tuple[Any, str | None, dict[str, Any]]] = []
    for uuid, values, line in items:
        row = existing.get(uuid) if uuid is not None else None
        changed = (
            values if row is None else {k: v for k, v in values.items() if getattr(row, k) != v}
        )
        if row is None:
            result.created += 1
        elif not changed:
            result.unchanged += 1
            continue
        else:
            result.updated += 1
            name = describe(row)
            for field_name, old, new in (listing or fields)(row, changed):
                result.changes.add(name, field_name, old, new)
        if not accept_changes:
            _damage(kind, row, changed, small.texts.get(line, {}), small.problems, line)
        writes.append((row, uuid, changed))
    small.problems.raise_if_any()
    if not dry_run:
        _write(session, model, writes, defaults or {})
    session.flush()
    return result


def _write(
    session: Session,
    model: Any,
    writes: list[tuple[Any, str | None, dict[str, Any]]],
    defaults: dict[str, Any],
) -> None:
    """Insert the new rows (``row`` None; ``uuid`` when given), update the changed ones."""
    for row, uuid, values in writes:
        if row is None:
            given = {**defaults, **values}
            session.add(model(**({"uuid": uuid} if uuid else {}), **given))
        else:
            for key, value in values.items():
                setattr(row, key, value)


def _damage(
    kind: str,
    row: Any,
    values: dict[str, Any],
    texts: dict[str, str],
    problems: Problems,
    line: int,
) -> None:
    """The values of a new (``row`` None) or changed record that look damaged by a
    spreadsheet (:func:`.damage.reasons`), as reasons of its line."""
    for column in damage.TEXT[kind]:
        if column in values:
            old = None if row is None else getattr(row, column)
            for reason in damage.reasons(column, old, values[column], texts.get(column)):
                problems.add(line, reason)


def shown(value: Any) -> Any:
    """A value as the record's JSON field shows it: instants in UTC, dates as text."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def exchange_ids(session: Session) -> dict[str, int]:
    return {slug: id_ for id_, slug in session.execute(select(Exchange.id, Exchange.slug))}
