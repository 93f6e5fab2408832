"""Alembic, configured in code: the migration scripts ship inside the package."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from slotctl.db.engine import database_errors


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

    with database_errors(engine), engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
