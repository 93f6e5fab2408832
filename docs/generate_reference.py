"""Generate ``docs/reference.md``, the command reference, from slotctl's Typer app.

Run from the repository root::

    python docs/generate_reference.py          # (re)write docs/reference.md
    python docs/generate_reference.py --check  # exit 1 if docs/reference.md is stale

or import it and call :func:`render`, which returns the Markdown text (the
test suite compares it with the file).

The script walks the Click command tree that Typer builds
(``typer.main.get_command(slotctl.cli.app)``) in the order the app lists its
commands, and writes every piece of text itself: nothing depends on the
terminal's width, the environment or the clock, so the output is the same on
every machine. It uses only Typer's public objects and the attributes of its
bundled Click (``typer._click``); it never imports ``click``.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference.md"
REGENERATE = "python docs/generate_reference.py"
PROG = "slotctl"
EXAMPLE_HEADING = re.compile(r"^Examples?:$")
BREAK = "\b"  # Click's marker for a paragraph that must not be rewrapped


@dataclass(frozen=True)
class Node:
    """One command (or group) of the tree, with the context Click would give it."""

    path: tuple[str, ...]
    command: Any  # typer._click.Command
    ctx: typer.Context

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return isinstance(self.command, TyperGroup)

    @property
    def anchor(self) -> str:
        return github_anchor(self.name)


def command_tree(app: typer.Typer | None = None) -> list[Node]:
    """Every visible command and group, depth first, in the order the app lists them."""
    if app is None:
        from slotctl.cli import app as slotctl_app

        app = slotctl_app
    root = typer.main.get_command(app)
    nodes: list[Node] = []

    def visit(command: Any, path: tuple[str, ...], parent: typer.Context | None) -> None:
        ctx = typer.Context(
            command,
            parent=parent,
            info_name=path[-1],
            resilient_parsing=True,
            **command.context_settings,
        )
        nodes.append(Node(path, command, ctx))
        if isinstance(command, TyperGroup):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    visit(sub, (*path, name), ctx)

    visit(root, (PROG,), None)
    return nodes


# Text helpers -------------------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The id GitHub (and most Markdown renderers) give a heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def escape_prose(text: str) -> str:
    """Keep ``<`` from opening an HTML tag in Markdown prose."""
    return text.replace("<", "&lt;")


def cell(text: str) -> str:
    """A Markdown table cell: pipes escaped (also inside code spans), one line."""
    return " ".join(text.split()).replace("|", "\\|")


def code(text: str) -> str:
    return f"`{text}`"


def help_text(command: Any) -> str:
    """The command's help as Click prints it (cleaned docstring up to a form feed)."""
    if not command.help:
        return ""
    return inspect.cleandoc(command.help).partition("\f")[0].strip()


def summary(command: Any) -> str:
    """The first paragraph of the help, on one line (untruncated, unlike ``--help``)."""
    text = help_text(command)
    first = text.split("\n\n", 1)[0]
    if first.startswith(BREAK):
        return ""
    return " ".join(first.split())


def help_blocks(text: str) -> Iterator[str]:
    """The help text as Markdown blocks.

    Plain paragraphs are unwrapped; a paragraph marked with Click's ``\\b`` is
    kept verbatim in a code block, and one headed ``Example:`` becomes a bold
    label followed by a shell code block.
    """
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.splitlines()
        if not lines:
            continue
        if lines[0].strip() == BREAK:
            body = lines[1:]
            if body and EXAMPLE_HEADING.match(body[0].strip()):
                label, body = body[0].strip(), body[1:]
                yield f"**{label}**"
                yield "```sh\n" + textwrap.dedent("\n".join(body)).strip("\n") + "\n```"
            elif body:
                yield "```text\n" + textwrap.dedent("\n".join(body)).strip("\n") + "\n```"
            continue
        yield escape_prose(" ".join(" ".join(lines).split()))


# Parameters ---------------------------------------------------------------------------


def bare_metavar(param: Any) -> str:
    """An argument's name without the brackets or dots a metavar may carry."""
    name = param.metavar or param.name.upper()
    return name.strip("[]{}").removesuffix("...").strip("[]{}")


def usage_piece(param: Any) -> str:
    """An argument as the usage line shows it, in Click's conventions:
    ``NAME`` required, ``[NAME]`` optional, ``...`` when it takes several values."""
    name = bare_metavar(param)
    if not param.required:
        name = f"[{name}]"
    if param.nargs != 1:
        name += "..."
    return name


def usage(node: Node) -> str:
    command = node.command
    pieces = [node.name]
    if command.options_metavar and options(node, include_help=True):
        pieces.append(command.options_metavar)
    pieces.extend(usage_piece(p) for p in arguments(node))
    if node.is_group:
        pieces.append(command.subcommand_metavar)
    return " ".join(pieces)


def arguments(node: Node) -> list[Any]:
    return [
        p
        for p in node.command.get_params(node.ctx)
        if p.param_type_name == "argument" and not p.hidden
    ]


def options(node: Node, *, include_help: bool = False) -> list[Any]:
    help_names = set(node.ctx.help_option_names)
    return [
        p
        for p in node.command.get_params(node.ctx)
        if p.param_type_name == "option"
        and not p.hidden
        and (include_help or not set(p.opts) <= help_names)
    ]


def _short_first(opts: Sequence[str]) -> list[str]:
    """``-f, --format`` rather than ``--format, -f`` (as Click's help orders them)."""
    return sorted(opts, key=lambda opt: len(opt) - len(opt.lstrip("-")))


def option_label(param: Any, ctx: typer.Context) -> str:
    value = "" if param.is_flag or param.count else f" {param.display_type_rich(ctx)}"
    label = ", ".join(_short_first(param.opts)) + value
    if param.secondary_opts:
        label += " / " + ", ".join(_short_first(param.secondary_opts))
    return label


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(item) for item in value)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def default_text(param: Any, ctx: typer.Context) -> str | None:
    """The default ``--help`` would show, or None (as Typer decides it)."""
    if isinstance(param.show_default, str):
        return param.show_default
    value = param.get_default(ctx, call=False) if param.show_default else None
    if callable(value):
        return "(dynamic)"
    if param.param_type_name == "option" and param.is_flag and isinstance(value, bool):
        # A --x/--no-x pair shows the side that is on; a lone flag shows nothing when off.
        if param.secondary_opts:
            value = (param.opts if value else param.secondary_opts)[0]
        else:
            value = "on" if value else None
    return None if value is None else _value_text(value) or None


def describe(param: Any) -> str:
    text = escape_prose(" ".join((param.help or "").split()))
    envvar = param.envvar
    if envvar and getattr(param, "show_envvar", True):
        names = [envvar] if isinstance(envvar, str) else list(envvar)
        text += " Env: " + ", ".join(code(n) for n in names) + "."
    return text.strip()


def param_table(title: str, column: str, params: list[Any], ctx: typer.Context) -> list[str]:
    if not params:
        return []
    lines = [f"**{title}**", "", f"| {column} | Description | Default |", "|---|---|---|"]
    for param in params:
        if param.param_type_name == "argument":
            name = usage_piece(param)
        else:
            name = option_label(param, ctx)
        if param.required:
            default = "*required*"
        else:
            shown = default_text(param, ctx)
            default = code(shown) if shown else ""
        lines.append(f"| {cell(code(name))} | {cell(describe(param))} | {cell(default)} |")
    return [*lines, ""]


# Sections -----------------------------------------------------------------------------


def heading_level(node: Node) -> str:
    return "##" if node.is_group else "###"


def section(node: Node, children: list[Node]) -> list[str]:
    lines = [f"{heading_level(node)} {node.name}", ""]
    first, *rest = list(help_blocks(help_text(node.command))) or [""]
    if first:
        lines += [first, ""]
    lines += ["```text", usage(node), "```", ""]
    for block in rest:
        lines += [block, ""]
    lines += param_table("Arguments", "Argument", arguments(node), node.ctx)
    title = "Global options" if len(node.path) == 1 else "Options"
    lines += param_table(title, "Option", options(node), node.ctx)
    if children:
        lines += ["**Commands**", "", "| Command | Description |", "|---|---|"]
        for child in children:
            link = f"[{cell(code(child.path[-1]))}](#{child.anchor})"
            lines.append(f"| {link} | {cell(escape_prose(summary(child.command)))} |")
        lines.append("")
    return lines


def contents(nodes: list[Node]) -> list[str]:
    lines = ["## Contents", ""]
    for node in nodes:
        indent = "  " * (len(node.path) - 1)
        lines.append(f"{indent}- [{node.name}](#{node.anchor})")
    return [*lines, ""]


def render(app: typer.Typer | None = None) -> str:
    """The whole reference as Markdown (deterministic: same app, same text)."""
    nodes = command_tree(app)
    root_ctx = nodes[0].ctx
    help_flags = " / ".join(code(name) for name in _short_first(root_ctx.help_option_names))
    lines = [
        "<!-- Generated by docs/generate_reference.py: do not edit. -->",
        "",
        "# slotctl command reference",
        "",
        "> Generated from the command tree of `slotctl.cli.app` by "
        "[`docs/generate_reference.py`](generate_reference.py); do not edit by hand. "
        f"Regenerate with `{REGENERATE}` (run from the repository root).",
        "",
        f"Every command also takes {help_flags}. Global options go before the command "
        "(`slotctl --actor alice bookings cancel ...`). Exit codes, the JSON error "
        "format, configuration and CSV formats are described in the "
        "[operator's guide](guide.md).",
        "",
        "In usage lines `NAME` is a required argument, `[NAME]` an optional one and "
        "`NAME...` one that takes several values. In the option tables `<str>`, `<int>` "
        "and so on name the type of the value, and `<a|b|c>` its choices.",
        "",
        *contents(nodes),
    ]
    for index, node in enumerate(nodes):
        children = [
            other
            for other in nodes[index + 1 :]
            if len(other.path) == len(node.path) + 1 and other.path[:-1] == node.path
        ]
        lines += section(node, children)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in ([], ["--check"]):
        print(f"usage: {REGENERATE} [--check]", file=sys.stderr)
        return 2
    text = render()
    current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else None
    if args == ["--check"]:
        if current != text:
            print(f"{REFERENCE} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
        print(f"{REFERENCE} is up to date.")
        return 0
    if current == text:
        print(f"{REFERENCE} is up to date.")
        return 0
    REFERENCE.write_text(text, encoding="utf-8", newline="\n")
    print(f"Wrote {REFERENCE}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
