"""The small record types (exchanges, hours, closures) go through the ORM, with the
same validation as the commands that create them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl.db.models import Exchange
from slotctl.errors import InvalidValue
from slotctl.tabular import Row, Source
from slotctl.transfer.cells import ImportResult, Problems, add_reasons, cell_uuid, file_rows


@dataclass
class Small:
    problems: Problems
    exchanges: dict[str, int] = field(default_factory=dict)  # slug -> id
    uuids: dict[str, int] = field(default_factory=dict)

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
    for row in file_rows(stream, kind, small.problems):
        try:
            parsed.append(parse(row, small))
        except InvalidValue as exc:
            add_reasons(small.problems, row.line, exc)
    return parsed, small


Item = tuple[str | None, dict[str, Any], int]  # (uuid, column values, line)


def apply(
    session: Session,
    kind: str,
    model: Any,
    items: list[Item],
    dry_run: bool,
    defaults: dict[str, Any] | None = None,
) -> ImportResult:
    """Upsert ORM rows by uuid: update the values given when one differs (a column the
    file leaves out, or an empty optional cell, keeps its value), insert otherwise (with
    ``defaults`` for what is not given)."""
    result = ImportResult(kind, dry_run=dry_run)
    existing = {
        row.uuid: row
        for row in session.scalars(
            select(model).where(model.uuid.in_([u for u, _, _ in items if u is not None]))
        )
    }
    for uuid, values, _ in items:
        row = existing.get(uuid) if uuid is not None else None
        if row is None:
            result.created += 1
            if not dry_run:
                given = {**(defaults or {}), **values}
                session.add(model(**({"uuid": uuid} if uuid else {}), **given))
            continue
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed:
            result.unchanged += 1
            continue
        result.updated += 1
        if not dry_run:
            for key, value in changed.items():
                setattr(row, key, value)
    session.flush()
    return result


def exchange_ids(session: Session) -> dict[str, int]:
    return {slug: id_ for id_, slug in session.execute(select(Exchange.id, Exchange.slug))}
