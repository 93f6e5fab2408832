"""The documentation in docs/ keeps up with the CLI.

* docs/reference.md is exactly what docs/generate_reference.py renders now;
* every command of the app has a section there, listing each of its options;
* every exit code of the command contract (CLI.md: 0-6) is in the guide's table;
* the local links of the docs point at files that exist.

None of these needs a database; together they take well under a second.
"""

from __future__ import annotations

import difflib
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
REGENERATE = "python docs/generate_reference.py"

# The exit codes of CLI.md, with a word each row of the guide's table must contain.
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


def test_every_exit_code_is_documented_in_the_guide() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    rows = {
        int(match[1]): match[2]
        for match in re.finditer(r"^\| ([0-9]) \|(.*)\|\s*$", guide, flags=re.MULTILINE)
    }
    missing = sorted(set(EXIT_CODES) - set(rows))
    assert not missing, f"exit codes missing from the table in docs/guide.md: {missing}"
    for code, word in EXIT_CODES.items():
        assert word in rows[code].lower(), f"exit code {code}: the guide's row lacks {word!r}"
    # The JSON error codes the CLI prints are documented with their exit codes.
    assert "`internal`" in rows[1]
    assert "SLOTCTL_DEBUG=1" in rows[1]
    stack = list(SlotctlError.__subclasses__())
    while stack:
        error = stack.pop()
        stack.extend(error.__subclasses__())
        assert error.exit_code in rows, f"{error.__name__} exits {error.exit_code}: not in guide"
        assert f"`{error.code}`" in rows[error.exit_code], (
            f"{error.__name__}: JSON code {error.code!r} is not in the guide's row for "
            f"exit {error.exit_code}"
        )


@pytest.mark.parametrize("page", ["index.md", "guide.md", "reference.md"])
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
