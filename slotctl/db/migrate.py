"""The schema version: the check every command makes, and Alembic's upgrade.

Alembic is configured in code (the migration scripts ship inside the package)
and imported only to upgrade or to list the scripts: the check compares the
database's revision with :data:`slotctl.migrations.HEAD`, one plain query.

This module builds on :mod:`slotctl.db.engine`; the engine never imports it.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from slotctl.db.engine import current_revision, database_errors, describe
from slotctl.errors import Unavailable
from slotctl.migrations import HEAD, REVISIONS


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """Check the schema is at HEAD; migrate it when ``auto_upgrade`` (default database)."""
    with database_errors(engine):
        revision = current_revision(engine)
        if revision == HEAD:
            return
        if auto_upgrade and revision in (None, *REVISIONS):
            upgrade(engine)
            return
    if revision is None:
        raise Unavailable(
            f"database {describe(engine)} has no slotctl schema: run `slotctl db upgrade`"
        )
    if revision not in REVISIONS:
        raise Unavailable(
            f"database schema is at revision {revision}, which this slotctl does not know: "
            "upgrade slotctl"
        )
    raise Unavailable(
        f"database schema is at revision {revision}, this slotctl needs {HEAD}: "
        "run `slotctl db upgrade`"
    )


def alembic_config(connection: Connection | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "slotctl:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    from slotctl.db import dialects

    with database_errors(engine), engine.connect() as connection:
        sql = dialects.of(connection)
        with sql.migrating(connection), connection.begin():
            command.upgrade(alembic_config(connection), revision)
            sql.check_references(connection)
