"""Finding records by the identifiers of docs/cli.md: slug, uuid or uuid prefix."""

from __future__ import annotations

import re
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl.db.models import Exchange, Record
from slotctl.errors import InvalidValue, NotFound

R = TypeVar("R", bound=Record)

MIN_PREFIX = 8
_UUID_CHARS = re.compile(r"^[0-9a-f-]+$")


def exchange_by_slug(session: Session, slug: str, *, for_update: bool = False) -> Exchange:
    """The exchange called ``slug``; ``for_update`` locks its row until commit."""
    query = select(Exchange).where(Exchange.slug == slug.strip().lower())
    if for_update:
        query = query.with_for_update()
    exchange = session.scalars(query).one_or_none()
    if exchange is None:
        raise NotFound(f"no exchange {slug!r} (see `slotctl exchanges list`)")
    return exchange


def by_uuid(session: Session, model: type[R], ident: str, what: str) -> R:
    """A record by full uuid or a unique prefix of at least eight characters."""
    key = ident.strip().lower()
    if not _UUID_CHARS.match(key):
        raise InvalidValue(f"invalid {what} id {ident!r}: give a uuid or its first 8+ characters")
    if len(key) == 36:
        found = session.scalars(select(model).where(model.uuid == key)).one_or_none()
        if found is None:
            raise NotFound(f"no {what} {ident}")
        return found
    if len(key) < MIN_PREFIX:
        raise InvalidValue(
            f"{what} id {ident!r} is too short: give at least {MIN_PREFIX} characters"
        )
    # The range lets an index serve the lookup; startswith keeps it exact on any collation.
    matches = session.scalars(
        select(model)
        .where(model.uuid >= key, model.uuid < key + "g", model.uuid.startswith(key))
        .limit(2)
    ).all()
    if not matches:
        raise NotFound(f"no {what} with id {ident}")
    if len(matches) > 1:
        raise InvalidValue(f"{what} id {ident!r} is ambiguous: give more characters")
    return matches[0]
