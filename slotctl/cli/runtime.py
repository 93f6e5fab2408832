"""Per-invocation state of the CLI: global options, settings, the database.

Nothing heavy is imported at module level: settings (pydantic) and the engine
(SQLAlchemy) load when a command first needs them. The schema check every
command makes reads the revision with plain SQL
(:func:`slotctl.db.migrate.ensure_schema`); Alembic loads only when the
default database must be upgraded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from slotctl.config import LoadedSettings, Settings


@dataclass
class Runtime:
    config_file: Path | None = None
    database_url: str | None = None
    actor: str | None = None
    output_format: str | None = None
    _loaded: LoadedSettings | None = None
    _engine: Engine | None = None
    _checked: bool = False

    @property
    def loaded(self) -> LoadedSettings:
        if self._loaded is None:
            from slotctl.config import load_settings

            self._loaded = load_settings(
                self.config_file, database_url=self.database_url, actor=self.actor
            )
        return self._loaded

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    def engine(self, *, check_schema: bool = True) -> Engine:
        if self._engine is None:
            from slotctl.db.engine import make_engine

            settings = self.settings
            self._engine = make_engine(settings.database_url, settings.busy_timeout)
        if check_schema and not self._checked:
            from slotctl.db.migrate import ensure_schema

            ensure_schema(self._engine, auto_upgrade=self.settings.uses_default_database)
            self._checked = True
        return self._engine

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One unit of work, committed when the block ends without error."""
        from slotctl.db.engine import transaction

        with transaction(self.engine(), readonly=readonly) as session:
            yield session

    @contextmanager
    def staged_session(self) -> Iterator[Session]:
        """For services that read first and then write briefly (taking a seat)."""
        from slotctl.db.engine import staged

        with staged(self.engine()) as session:
            yield session

    @contextmanager
    def chunked_session(self) -> Iterator[Session]:
        """For bulk work that commits in chunks (slot generation)."""
        from slotctl.db.engine import chunked

        with chunked(self.engine()) as session:
            yield session

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


_current = Runtime()


def current() -> Runtime:
    return _current


def reset(**options: Any) -> Runtime:
    global _current
    _current.close()
    _current = Runtime(**options)
    return _current


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()
