"""The documentation in docs/ keeps up with the CLI.

* docs/reference.md is exactly what docs/generate_reference.py renders now;
* every command of the app has a section there, listing each of its options;
* the command contract, docs/cli.md, names every command of the app with each of
  its options, lists every record type's fields in the order the code has them,
  and has the exit codes 0-6 with their JSON codes;
* every exit code of the contract is in the guide's table;
* the local links of the docs point at files that exist.

None of these needs a database; together they take well under a second.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from slotctl.cli import app
from slotctl.errors import SlotctlError

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference.md"
GUIDE = DOCS / "guide.md"
CONTRACT = DOCS / "cli.md"
REGENERATE = "python docs/generate_reference.py"

# The exit codes of the command contract (docs/cli.md), with a word each row of the
# exit-code tables (the contract's and the guide's) must contain.
EXIT_CODES = {
    0: "done",
    1: "unexpected",
    2: "usage",
    3: "not found",
    4: "conflict",
    5: "invalid input file",
    6: "unavailable",
}


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "slotctl_docs_generate_reference", DOCS / "generate_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@cache
def rendered() -> str:
    text: str = generator().render()
    return text


@cache
def commands() -> list[tuple[str, Any, typer.Context]]:
    """Every visible command and group of the app as ``(full path, command, context)``."""
    found: list[tuple[str, Any, typer.Context]] = []

    def visit(command: Any, path: str, parent: typer.Context | None) -> None:
        ctx = typer.Context(command, parent=parent, info_name=path.rsplit(" ", 1)[-1])
        found.append((path, command, ctx))
        if isinstance(command, TyperGroup):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    visit(sub, f"{path} {name}", ctx)

    visit(typer.main.get_command(app), "slotctl", None)
    return found


@cache
def sections(markdown: str) -> dict[str, str]:
    """The reference's sections by heading (``slotctl hours add`` -> its text)."""
    parts = re.split(r"^#{2,3} (slotctl(?: [\w-]+)*)$", markdown, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_reference_is_up_to_date() -> None:
    current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    expected = rendered()
    if current != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "docs/reference.md (on disk)",
                    "docs/reference.md (rendered from the CLI now)",
                    n=1,
                )
            )[:40]
        )
        pytest.fail(
            f"docs/reference.md is stale (it does not match the CLI's commands and help). "
            f"Regenerate it with `{REGENERATE}` from the repository root.\n{diff}",
            pytrace=False,
        )


def test_rendering_is_deterministic() -> None:
    assert generator().render() == rendered()


def test_every_command_is_in_the_reference() -> None:
    by_heading = sections(rendered())
    missing = [path for path, _, _ in commands() if path not in by_heading]
    assert not missing, f"commands without a section in docs/reference.md: {missing}"


@pytest.mark.parametrize("path", [path for path, _, _ in commands()])
def test_every_option_and_example_is_in_its_section(path: str) -> None:
    command = next(command for name, command, _ in commands() if name == path)
    section = sections(rendered())[path]
    for param in command.params:
        if param.hidden or param.param_type_name != "option":
            continue
        for opt in (*param.opts, *param.secondary_opts):
            assert re.search(rf"`[^`]*{re.escape(opt)}\b", section), (
                f"{path}: option {opt} is not in its section of docs/reference.md"
            )
    examples = re.findall(r"^\s+(slotctl .+)$", command.help or "", flags=re.MULTILINE)
    for example in examples:
        assert example.strip() in section, f"{path}: example {example!r} missing"


@pytest.mark.parametrize("page", ["guide.md", "cli.md"])
def test_every_exit_code_is_documented(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    rows = {
        int(match[1]): match[2]
        for match in re.finditer(r"^\| ([0-9]) \|(.*)\|\s*$", text, flags=re.MULTILINE)
    }
    missing = sorted(set(EXIT_CODES) - set(rows))
    assert not missing, f"exit codes missing from the table in docs/{page}: {missing}"
    for code, word in EXIT_CODES.items():
        assert word in rows[code].lower(), f"exit code {code}: the row in {page} lacks {word!r}"
    # The JSON error codes the CLI prints are documented with their exit codes.
    assert "`internal`" in rows[1]
    assert "SLOTCTL_DEBUG=1" in rows[1]
    stack = list(SlotctlError.__subclasses__())
    while stack:
        error = stack.pop()
        stack.extend(error.__subclasses__())
        assert error.exit_code in rows, f"{error.__name__} exits {error.exit_code}: not in {page}"
        assert f"`{error.code}`" in rows[error.exit_code], (
            f"{error.__name__}: JSON code {error.code!r} is not in the row of docs/{page} for "
            f"exit {error.exit_code}"
        )


# The command contract ------------------------------------------------------------------

# Each record type of docs/cli.md (its heading there) and where the code keeps its fields,
# as "module:attribute" (a tuple of names, or a dataclass whose fields are the names). The
# record types' fields are in slotctl.records; the stats figures are plain dicts whose keys
# slotctl.services.stats lists.
RECORD_FIELDS = {
    "Exchange record": ("slotctl.records:EXCHANGE_FIELDS",),
    "Shift record": ("slotctl.records:HOURS_FIELDS",),
    "Closure record": ("slotctl.records:CLOSURE_FIELDS",),
    "Slot record": ("slotctl.records:SLOT_FIELDS",),
    "Booking record": ("slotctl.records:BOOKING_FIELDS",),
    "History entry": ("slotctl.records:HISTORY_FIELDS",),
    "Violation record": ("slotctl.records:VIOLATION_FIELDS",),
    "Stats record": ("slotctl.services.stats:STATS_FIELDS",),
    "Stats per exchange": ("slotctl.services.stats:EXCHANGE_FIELDS",),
}
# Options a synopsis in docs/cli.md may leave out: every command has them.
COMMON_OPTIONS = {"--format", "--help"}


@cache
def contract() -> str:
    return CONTRACT.read_text(encoding="utf-8")


def code_fields(where: str) -> tuple[str, ...]:
    """The field names at ``module:attribute``."""
    module_name, _, attribute = where.partition(":")
    found = getattr(importlib.import_module(module_name), attribute, None)
    if isinstance(found, type) and dataclasses.is_dataclass(found):
        return tuple(field.name for field in dataclasses.fields(found))
    if isinstance(found, tuple | list) and all(isinstance(name, str) for name in found):
        return tuple(found)
    pytest.fail(
        f"no field list at {where}: tell tests/test_docs.py where the record's fields live now",
        pytrace=False,
    )


def documented_fields(heading: str) -> list[str]:
    """The first column of the table under ``### heading`` in docs/cli.md, in order."""
    match = re.search(
        rf"^#{{2,4}} {re.escape(heading)}\n(.*?)(?=^#|\Z)", contract(), flags=re.M | re.S
    )
    assert match, f"docs/cli.md has no section '{heading}'"
    return re.findall(r"^\| `([^`]+)` \|", match[1], flags=re.MULTILINE)


@pytest.mark.parametrize("heading", list(RECORD_FIELDS))
def test_the_contract_lists_every_field_of_each_record_in_order(heading: str) -> None:
    documented = documented_fields(heading)
    for where in RECORD_FIELDS[heading]:
        fields = list(code_fields(where))
        assert documented == fields, (
            f"docs/cli.md, '{heading}': the fields are {documented}, {where} has {fields}"
        )


@pytest.mark.parametrize("path", [path for path, _, _ in commands()])
def test_the_contract_names_every_command_with_its_options(path: str) -> None:
    text = contract()
    assert re.search(rf"`{re.escape(path)}(?=[` ])", text), (
        f"docs/cli.md does not name the command `{path}`"
    )
    command = next(command for name, command, _ in commands() if name == path)
    if isinstance(command, TyperGroup):  # a group's options are in the invocation table
        where, what = text, "docs/cli.md"
    else:
        rows = re.findall(rf"^\| `{re.escape(path)}[ `].*$", text, flags=re.MULTILINE)
        assert rows, f"docs/cli.md has no table row for `{path}` (its synopsis)"
        where, what = "\n".join(rows), f"the synopsis of `{path}` in docs/cli.md"
    for param in command.params:
        if param.hidden or param.param_type_name != "option":
            continue
        for opt in (*param.opts, *param.secondary_opts):
            if opt.startswith("--") and opt not in COMMON_OPTIONS:
                assert re.search(rf"{re.escape(opt)}\b", where), f"{opt} is not in {what}"


@pytest.mark.parametrize("page", ["index.md", "guide.md", "reference.md", "design.md", "cli.md"])
def test_local_links_resolve(page: str) -> None:
    text = rendered() if page == "reference.md" else (DOCS / page).read_text(encoding="utf-8")
    anchors = {m[1] for m in re.finditer(r"\]\(#([\w-]+)\)", text)}
    headings = {
        generator().github_anchor(m[1])
        for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)
    }
    assert anchors <= headings, f"{page}: links to missing headings {sorted(anchors - headings)}"
    for target in re.findall(r"\]\((?!https?:|#)([^)#\s]+)", text):
        assert (DOCS / target).exists(), f"{page}: link to missing file {target}"
