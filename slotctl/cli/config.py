"""``slotctl config``: the effective settings and where each came from."""

from __future__ import annotations

from slotctl.cli.options import Format, OutputFormat, group
from slotctl.cli.runtime import current

app = group("Inspect configuration.")


@app.command("show")
def show(fmt: Format = OutputFormat.table) -> None:
    """Show the effective settings and their sources.

    Passwords are masked.

    \b
    Example:
      slotctl --config ./slotctl.toml config show --format json
    """
    from slotctl.config import Settings, mask_url
    from slotctl.render import emit

    loaded = current().loaded
    records = []
    for name in Settings.model_fields:
        value = getattr(loaded.settings, name)
        if name == "database_url":
            value = mask_url(value)
        records.append({"setting": name, "value": value, "source": loaded.sources[name]})
    emit(records, fmt.value, columns=("setting", "value", "source"), title="Settings")
