"""The root Typer app, its global options, and the one error map.

Every invocation, from the console script or a test's CliRunner, runs through
:meth:`SlotctlGroup.main`, which turns domain errors, usage errors and driver
errors into one ``Error: ...`` line on stderr (a JSON object with
``--format json``) and the exit codes of docs/cli.md.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click import exceptions as click_exceptions  # Typer's bundled Click
from typer.core import TyperGroup

from slotctl import __version__
from slotctl.cli import bookings as bookings_cli
from slotctl.cli import config as config_cli
from slotctl.cli import db as db_cli
from slotctl.cli import desk as desk_cli
from slotctl.cli import exchanges as exchanges_cli
from slotctl.cli import hours as hours_cli
from slotctl.cli import maintenance, runtime, transfer
from slotctl.cli import queue as queue_cli
from slotctl.cli import slots as slots_cli
from slotctl.cli import stats as stats_cli
from slotctl.cli import waitlist as waitlist_cli
from slotctl.errors import InvalidValue, SlotctlError

EXIT_USAGE = 2


def _wants_json(args: Sequence[str]) -> bool:
    chosen = runtime.current().output_format
    if chosen is not None:
        return chosen == "json"
    for index, arg in enumerate(args):
        if arg in ("--format", "-f") and index + 1 < len(args):
            return args[index + 1].lower() == "json"
        if arg.startswith("--format="):
            return arg.split("=", 1)[1].lower() == "json"
    return os.environ.get("SLOTCTL_FORMAT", "").lower() == "json"


def _report(
    message: str,
    code: str,
    args: Sequence[str],
    problems: list[tuple[int, str]] | None = None,
    sheet: str | None = None,
) -> None:
    from slotctl.render import error

    error(message, code, as_json=_wants_json(args), problems=problems, sheet=sheet)


class _PipeClosed(Exception):
    """The reader of standard output went away (``slotctl ... | head``). Not an
    OSError, so Click does not turn it into exit 1 on the way out."""


def _quiet_stdout() -> None:
    """Point standard output at /dev/null: nothing more can reach the closed pipe, and
    the interpreter's last flush does not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass


def _flush_stdout() -> None:
    """Flush what is buffered for stdout now: a closed pipe then shows inside the map
    (the exit code stands) instead of in the interpreter's last flush (exit 120)."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _quiet_stdout()


def _check_arguments(argv: Sequence[str]) -> None:
    """Every argument must be text: the shell passes bytes that are not UTF-8 as they
    came, and nothing downstream (the database, the terminal) can carry them."""
    for arg in argv:
        try:
            arg.encode()
        except UnicodeEncodeError:
            try:
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:
                shown = arg.encode("utf-8", "backslashreplace").decode()
            raise InvalidValue(
                f"argument '{shown}' is not UTF-8 text (check the terminal's or the "
                "script's encoding)"
            ) from None


class SlotctlGroup(TyperGroup):
    """The root group: runs a command and maps every failure to an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _PipeClosed from exc

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        code = self._run(argv, prog_name or "slotctl", complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(  # noqa: PLR0911 - the one error map: one exit per kind of failure
        self, argv: list[str], prog_name: str, complete_var: str | None, **extra: Any
    ) -> int:
        runtime.reset()
        try:
            _check_arguments(argv)
            if os.environ.get("SLOTCTL_NOW"):  # a bad frozen clock refuses before any work
                from slotctl import clock

                clock.now()
            result = super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            return result if isinstance(result, int) else 0
        except SlotctlError as exc:
            _report(
                exc.message,
                exc.code,
                argv,
                getattr(exc, "problems", None),
                getattr(exc, "sheet", None),
            )
            return exc.exit_code
        except click_exceptions.UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            _report(exc.format_message() + hint, "usage", argv)
            return EXIT_USAGE
        except click_exceptions.ClickException as exc:
            _report(exc.format_message(), "usage", argv)
            return exc.exit_code
        except typer.Abort:
            _report("aborted; nothing changed", "aborted", argv)
            return 130
        except KeyboardInterrupt:
            return 130
        except (BrokenPipeError, _PipeClosed):
            _quiet_stdout()
            return 0
        except OverflowError as exc:  # a bound slotctl.bounds does not know yet
            _report(f"a number or date is out of range ({exc})", "usage", argv)
            return EXIT_USAGE
        except Exception as exc:
            if os.environ.get("SLOTCTL_DEBUG") == "1":
                raise
            _report(
                f"unexpected {type(exc).__name__}: {exc} (set SLOTCTL_DEBUG=1 for a traceback)",
                "internal",
                argv,
            )
            return 1
        finally:
            runtime.current().close()
            _flush_stdout()


app = typer.Typer(
    cls=SlotctlGroup,
    name="slotctl",
    help=(
        "Administer appointment slots and bookings for walk-in exchanges.\n\n"
        "\b\nExample:\n  slotctl exchanges add downtown --name Downtown --timezone Europe/Berlin"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"slotctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Config file (default: ./slotctl.toml, else the one in $XDG_CONFIG_HOME/slotctl).",
            show_default=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Database URL, e.g. postgresql+psycopg://user@host/db (default: SQLite file).",
            show_default=False,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="Who is acting, for the audit trail.", show_default=False),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Administer appointment slots and bookings for walk-in exchanges.

    \b
    Example:
      slotctl exchanges add downtown --name Downtown --timezone Europe/Berlin
    """
    state = runtime.current()
    state.config_file = config
    state.database_url = database_url
    state.actor = actor


app.add_typer(exchanges_cli.app, name="exchanges")
app.add_typer(hours_cli.app, name="hours")
app.add_typer(slots_cli.app, name="slots")
app.add_typer(bookings_cli.app, name="bookings")
app.add_typer(queue_cli.app, name="queue")
app.command("desk")(desk_cli.desk)
app.add_typer(waitlist_cli.app, name="waitlist")
app.command("stats")(stats_cli.stats)
app.command("doctor")(maintenance.doctor)
app.command("demo")(maintenance.demo)
app.command("export")(transfer.export_all)
app.command("import")(transfer.import_all)
app.add_typer(db_cli.app, name="db")
app.add_typer(config_cli.app, name="config")


class _LazyCommands(MutableMapping[str, Any]):
    """The root's commands, in order; a command group's Click command is built
    the first time it is looked up."""

    def __init__(self, built: dict[str, Any], builders: dict[str, Callable[[], Any]]) -> None:
        self._names = [*built, *builders]
        self._built = built
        self._builders = builders

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._builders:
                raise KeyError(name)
            self._built[name] = self._builders.pop(name)()
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._names:
            self._names.append(name)
        self._builders.pop(name, None)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)
        self._builders.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)


def _root_command() -> TyperGroup:
    """The root group, whose command groups are built only when a command needs them.

    Typer turns every function of the app into a Click command up front (their
    signatures and type hints: ~35 ms for the whole tree); a plain command
    needs its own group only. ``--help`` and completion still list them all.
    """
    groups = app.registered_groups
    app.registered_groups = []
    try:
        root = typer.main.get_group(app)
    finally:
        app.registered_groups = groups
    builders: dict[str, Callable[[], Any]] = {
        str(info.name): partial(
            typer.main.get_group_from_info,
            info,
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
            suggest_commands=app.suggest_commands,
        )
        for info in groups
    }
    root.commands = _LazyCommands(dict(root.commands), builders)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    command = _root_command()
    try:
        result: int = command.main(args=argv, prog_name="slotctl", standalone_mode=False)
    finally:
        # The process ends here. Freezing moves every object to the collector's
        # permanent generation, so the interpreter's last collection does not walk
        # the whole heap of SQLAlchemy, pydantic and Rich on the way out (~0.1 s).
        gc.freeze()
    return result
