"""The CLI frame: help, version, the error map, start-up imports, layering."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from slotctl import __version__
from slotctl.cli import app


def _commands() -> Iterator[tuple[str, Any]]:
    def walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    yield from walk(typer.main.get_command(app), "slotctl")


ALL_COMMANDS = list(_commands())
LEAF_COMMANDS = [(p, c) for p, c in ALL_COMMANDS if not hasattr(c, "commands")]


def test_the_command_tree_is_complete() -> None:
    paths = {path for path, _ in LEAF_COMMANDS}
    expected = {
        "slotctl exchanges add",
        "slotctl exchanges list",
        "slotctl exchanges show",
        "slotctl exchanges update",
        "slotctl exchanges remove",
        "slotctl hours list",
        "slotctl hours add",
        "slotctl hours set",
        "slotctl hours update",
        "slotctl hours remove",
        "slotctl hours clear",
        "slotctl hours holidays",
        "slotctl hours closures add",
        "slotctl hours closures list",
        "slotctl hours closures remove",
        "slotctl db upgrade",
        "slotctl db current",
        "slotctl config show",
        "slotctl slots generate",
        "slotctl slots list",
        "slotctl slots available",
        "slotctl slots next",
        "slotctl slots show",
        "slotctl slots calendar",
        "slotctl slots update",
        "slotctl slots block",
        "slotctl slots unblock",
        "slotctl slots capacity",
        "slotctl slots delete",
        "slotctl slots export",
        "slotctl slots import",
        "slotctl bookings export",
        "slotctl bookings import",
        "slotctl hours export",
        "slotctl hours import",
        "slotctl hours closures export",
        "slotctl hours closures import",
        "slotctl exchanges export",
        "slotctl exchanges import",
        "slotctl export",
        "slotctl import",
        "slotctl stats",
    }
    assert expected <= paths


@pytest.mark.parametrize(("path", "command"), LEAF_COMMANDS, ids=[p for p, _ in LEAF_COMMANDS])
def test_every_command_has_help_with_an_example(path: str, command: Any, cli: Any) -> None:
    assert command.help, f"{path} has no help text"
    assert re.search(r"Example:\s+(SLOTCTL_\S+ )?slotctl \S+", command.help), path
    result = cli(*path.split()[1:], "--help")
    assert result.exit_code == 0
    example = re.search(r"Example:\n\s+(.*)\n", result.stdout)
    assert example is not None, result.stdout
    assert " ".join(path.split()[1:]) in example.group(1)


def test_every_option_has_help() -> None:
    for path, command in LEAF_COMMANDS:
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{path} {param.opts} has no help"


def test_version(cli: Any) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"slotctl {__version__}\n"


def test_no_arguments_shows_help(cli: Any) -> None:
    result = cli()
    assert "exchanges" in result.stdout + result.stderr
    assert result.exit_code in (0, 2)


@pytest.mark.parametrize(
    "args",
    [
        ["exchanges", "add"],
        ["exchanges", "list", "--bogus"],
        ["exchanges", "list", "--format", "yaml"],
        ["nonsense"],
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], cli: Any) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_usage_error_as_json(cli: Any) -> None:
    result = cli("exchanges", "show", "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "usage"
    assert "Missing argument" in error["message"]


def test_unexpected_errors_exit_1_without_traceback(cli: Any, db: Any, monkeypatch: Any) -> None:
    import slotctl.services.exchanges as service

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "list_exchanges", broken)
    result = cli("exchanges", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unexpected RuntimeError: boom (set SLOTCTL_DEBUG=1 for a traceback)\n"
    )
    monkeypatch.setenv("SLOTCTL_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli("exchanges", "list")


def test_bad_clock_is_a_usage_error(cli: Any, db: Any, monkeypatch: Any) -> None:
    assert cli("exchanges", "add", "x", "--name", "X").exit_code == 0
    monkeypatch.setenv("SLOTCTL_NOW", "yesterday-ish")
    result = cli("hours", "closures", "add", "x", "today")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: SLOTCTL_NOW='yesterday-ish' is not an ISO 8601")
    assert db.scalar("SELECT count(*) FROM closures") == 0


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = _run(
        "import sys, slotctl.cli; "
        "print(','.join(m for m in ('sqlalchemy', 'pydantic', 'pydantic_settings', 'rich', "
        "'psycopg', 'alembic', 'holidays') if m in sys.modules))"
    )
    assert loaded == ""


def test_console_entry_point_and_module_run() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "slotctl", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"slotctl {__version__}"


def test_exit_code_from_python_m(tmp_path: Any) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "slotctl", "hours", "add", "x", "mon", "25:00-26:00"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Error: invalid time '25:00'")


def test_import_layering_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 7 kept, 0 broken" in result.stdout
