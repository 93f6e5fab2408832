"""Alembic environment: runs on the connection slotctl hands over (batch mode on SQLite)."""

from __future__ import annotations

from alembic import context

from slotctl.db import dialects
from slotctl.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - slotctl always passes its connection
    raise RuntimeError("slotctl migrations run through `slotctl db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=dialects.of(connection).alter_in_batches,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
