"""``slotctl db``: schema migrations."""

from __future__ import annotations

from slotctl.cli.options import Format, OutputFormat, group
from slotctl.cli.runtime import current

app = group("Create and migrate the database schema.")


def _status() -> dict[str, object]:
    from slotctl.db.engine import current_revision, database_errors, describe
    from slotctl.migrations import HEAD

    engine = current().engine(check_schema=False)
    with database_errors(engine):
        revision = current_revision(engine)
    return {
        "database": describe(engine),
        "current": revision,
        "head": HEAD,
        "up_to_date": revision == HEAD,
    }


@app.command("upgrade")
def upgrade(fmt: Format = OutputFormat.table) -> None:
    """Create or migrate the schema to the latest version.

    \b
    Example:
      SLOTCTL_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/slotctl slotctl db upgrade
    """
    from slotctl.db.migrate import upgrade as run_upgrade
    from slotctl.render import emit, notice

    before = _status()
    if not before["up_to_date"]:
        run_upgrade(current().engine(check_schema=False))
    after = _status()
    if before["current"] == after["current"]:
        notice(f"Schema already at {after['current']}.")
    else:
        notice(f"Schema upgraded from {before['current'] or 'nothing'} to {after['current']}.")
    emit(after, fmt.value)


@app.command("current")
def current_(fmt: Format = OutputFormat.table) -> None:
    """Show the schema version of the database.

    \b
    Example:
      slotctl db current --format json
    """
    from slotctl.render import emit

    emit(_status(), fmt.value)
